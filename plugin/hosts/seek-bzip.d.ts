// Types for the part of `seek-bzip` (pure-JS bzip2, CommonJS, ships no types) we use.
declare module 'seek-bzip' {
  interface OutputStream {
    writeByte(byte: number): void;
    write?(buffer: Uint8Array, offset: number, length: number): number;
    flush?(): void;
  }
  /** A byte source: `readByte()` gives the next byte or -1 at the end; `eof()` says whether more follows. */
  interface InputStream {
    readByte(): number;
    read(buffer: Uint8Array, offset: number, length: number): number;
    eof?(): boolean;
  }
  const Bunzip: {
    /** Decode a whole bzip2 buffer (or input stream) into `output` (or a new Buffer); `multistream` joins concatenated streams. */
    decode(input: Uint8Array | InputStream, output?: OutputStream | Uint8Array | number, multistream?: boolean): Uint8Array | undefined;
  };
  export = Bunzip;
}
