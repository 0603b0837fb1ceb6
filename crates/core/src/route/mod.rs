//! Placeholder: filled by the route work.
