//! Antiphon engine.
