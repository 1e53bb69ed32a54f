//! MetaStore backends.
