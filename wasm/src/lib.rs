//! edgepg for WebAssembly (skeleton; the edge issue fills it).
