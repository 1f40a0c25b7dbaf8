throw new Error(
  "@lancedb/lancedb-linux-x64-musl is not installed: this project links an empty stand-in (vendor/npm-stubs/lancedb-linux-x64-musl) " +
    'because it runs on glibc Linux, not musl (Alpine). Remove it from the "links" of deno.json to install it.',
);
