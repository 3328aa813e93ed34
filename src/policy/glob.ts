// The one glob dialect of the configuration (trusted identity SANs, claim constraints,
// shorthand repository paths, package names). Pure.

const REGEX_META = /[\\^$.*+?()[\]{}|/]/g;

/**
 * Glob → regex source: `**` matches anything (crosses `/`), `*` matches any run of
 * characters except `/`, every other character is literal (regex metacharacters escaped:
 * a `.` or `?` in a SAN pattern must not widen it).
 */
export function globToRegexSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; ) {
    if (glob[i] === '*') {
      let run = 0;
      while (glob[i] === '*') {
        run++;
        i++;
      }
      // `**` (or longer runs) cross `/`; a single `*` stays within one path segment.
      out += run >= 2 ? '.*' : '[^/]*';
      continue;
    }
    out += glob[i]!.replace(REGEX_META, '\\$&');
    i++;
  }
  return out;
}

/** `text` as regex source that matches exactly `text` (every metacharacter escaped). */
export function escapeRegexSource(text: string): string {
  return text.replace(REGEX_META, '\\$&');
}
