//! The conformance suite (to be implemented).
