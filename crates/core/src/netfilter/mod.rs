//! Placeholder: filled by the netfilter work.
