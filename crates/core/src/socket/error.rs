//! Socket call errors: each is one Linux errno, as Linux returns it.

use crate::ipv4::output::OutputError;
use crate::route::RouteError;

/// A socket call that failed: its errno.
pub use crate::errno::Errno as SockError;

impl From<RouteError> for SockError {
    fn from(e: RouteError) -> Self {
        e.as_errno()
    }
}

impl From<OutputError> for SockError {
    fn from(e: OutputError) -> Self {
        SockError::from_errno(e.errno())
    }
}
