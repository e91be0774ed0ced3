//! portnet's reliability campaign (see `docs/reliability.md`): the fault soak
//! (`cargo xtask soak`) and the tests of hostile peers and exhaustion.
