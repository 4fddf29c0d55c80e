//! A minimal JS-callable entry point, only to measure what the core plus the
//! WebSocket transport weigh in a release `.wasm` (the real JS API lives in
//! the crate itself). Build and measure:
//!
//! ```text
//! cargo build -p edgepg-wasm --target wasm32-unknown-unknown --profile release-wasm --example size_probe
//! wasm-bindgen --target web --out-dir /tmp/probe target/wasm32-unknown-unknown/release-wasm/examples/size_probe.wasm
//! wasm-opt -Oz /tmp/probe/size_probe_bg.wasm -o /tmp/probe/opt.wasm && gzip -9 -c /tmp/probe/opt.wasm | wc -c
//! ```
#![cfg_attr(not(target_arch = "wasm32"), allow(unused))]

#[cfg(target_arch = "wasm32")]
mod probe {
    use edgepg_wasm::types::Value;
    use edgepg_wasm::{WsOptions, WsProxy};
    use wasm_bindgen::prelude::*;

    /// Connects through `proxy` (a `host:port/path` prefix), runs `sql` and
    /// returns the rows as text, one line per row.
    #[wasm_bindgen]
    pub async fn probe(dsn: String, proxy: String, sql: String) -> Result<String, JsValue> {
        let options =
            WsOptions { ws_proxy: Some(WsProxy::Url(proxy)), use_secure_websocket: false, ..WsOptions::default() };
        let err = |e: edgepg_wasm::Error| JsValue::from_str(&e.to_string());
        let conn = edgepg_wasm::connect(&dsn, options).await.map_err(err)?;
        let rows = conn.fetch(&sql, &[]).await.map_err(err)?;
        let mut out = String::new();
        for row in &rows {
            for i in 0..row.len() {
                let v: Value = row.get(i).map_err(err)?;
                out.push_str(&v.to_string());
                out.push('\t');
            }
            out.push('\n');
        }
        conn.close().await.map_err(err)?;
        Ok(out)
    }
}
