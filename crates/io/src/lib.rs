//! skiff-io (in progress)
