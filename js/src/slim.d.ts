export * from "./index.js";
/** Instantiates the module synchronously from a compiled WebAssembly.Module or bytes. */
export declare function initSync(options: { module: WebAssembly.Module | BufferSource }): unknown;
/** Instantiates the module asynchronously (fetches `module_or_path` when it is a URL). */
export declare function init(options?: { module_or_path?: WebAssembly.Module | BufferSource | URL | string | Response | Promise<any> }): Promise<unknown>;
