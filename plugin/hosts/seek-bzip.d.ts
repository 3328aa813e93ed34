// Types for the part of `seek-bzip` (pure-JS bzip2, CommonJS, ships no types) we use.
declare module 'seek-bzip' {
  interface OutputStream {
    writeByte(byte: number): void;
    write?(buffer: Uint8Array, offset: number, length: number): number;
    flush?(): void;
  }
  const Bunzip: {
    /** Decode a whole bzip2 buffer into `output` (or a new Buffer); `multistream` joins concatenated streams. */
    decode(input: Uint8Array, output?: OutputStream | Uint8Array | number, multistream?: boolean): Uint8Array | undefined;
  };
  export = Bunzip;
}
