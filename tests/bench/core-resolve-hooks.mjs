// Node module hooks for running the page's worklet modules under node: their
// import of '/core/timbrel-core.mjs' (an absolute URL path in the browser)
// resolves to the WebAssembly build's file. Registered by worklet-harness.mjs.
let coreUrl = null;

export async function initialize(data) {
  coreUrl = data.coreUrl;
}

export async function resolve(specifier, context, next) {
  if (specifier === '/core/timbrel-core.mjs') return { url: coreUrl, shortCircuit: true };
  return next(specifier, context);
}
