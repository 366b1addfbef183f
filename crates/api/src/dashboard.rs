//! The operator dashboard at `/` (not built yet).
