// No automatic initialisation: call `initSync({ module })` or `await init(...)`
// yourself (e.g. with a module your bundler produced), then use the API.
export { initSync, default as init } from "./edgepg.js";
export * from "./api.js";
