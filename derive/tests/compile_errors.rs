//! The derives' compile errors: one trybuild run over a few bad inputs
//! (trybuild compiles each file, so they are kept few).

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
