//! Antiphon models.
