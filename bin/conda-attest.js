#!/usr/bin/env node
// The launcher of every entry point (`conda-attest ...`, and the git diff driver
// `conda-attest diff --textconv`). Its first job is to refuse an old Node with one line and
// exit 2, so this file must parse and run on any Node that can start it: no static imports
// (they are resolved before the first statement runs), no top-level await, and no syntax
// newer than ES2015. Everything modern is loaded only after the version check.
//
// It is also the one place where V8 flags are set (Node documents changing them once the
// program runs as unpredictable, so library code never does).

var FLOOR = '22.22.2'; // package.json "engines"; a test keeps the two equal

function older(version, floor) {
  var a = version.split('.');
  var b = floor.split('.');
  for (var i = 0; i < 3; i++) {
    var x = parseInt(a[i], 10) || 0;
    var y = parseInt(b[i], 10) || 0;
    if (x !== y) return x < y;
  }
  return false;
}

if (older(process.versions.node, FLOOR)) {
  process.stderr.write('conda-attest needs Node.js >= ' + FLOOR + ' (this is ' + process.versions.node + ')\n');
  process.exitCode = 2;
} else if (process.argv.length === 3 && /^(--version|-v|-V)$/.test(process.argv[2]) && typeof process.getBuiltinModule === 'function') {
  // `conda-attest --version` is answered here, from package.json alone: no second module
  // to resolve and load, so it costs what a bare `node` start-up costs (measured on 2
  // loaded cores, CPU time, median of 15: the same as `node -e 0` within noise, ~10 ms
  // below going through launch.js).
  var fs = process.getBuiltinModule('node:fs');
  process.stdout.write(JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version + '\n');
} else {
  import('./launch.js').then(
    function (m) {
      return m.launch(process.argv.slice(2));
    },
    function (err) {
      process.stderr.write('conda-attest: internal error: ' + ((err && err.stack) || err) + '\n');
      process.exitCode = 2;
    }
  );
}
