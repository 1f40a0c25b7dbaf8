throw new Error(
  "openai is not installed: this project links an empty stand-in (vendor/npm-stubs/openai) " +
    'because it does not use LanceDB\'s optional OpenAI embedding functions. Remove it from the "links" of deno.json to install it.',
);
