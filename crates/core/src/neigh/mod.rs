//! Placeholder: filled by the neigh work.
