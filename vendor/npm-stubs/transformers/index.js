throw new Error(
  "@huggingface/transformers is not installed: this project links an empty stand-in (vendor/npm-stubs/transformers) " +
    'because it does not use LanceDB\'s optional Hugging Face embedding functions. Remove it from the "links" of deno.json to install it.',
);
