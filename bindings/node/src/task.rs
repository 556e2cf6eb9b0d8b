//! Promise-returning calls run their core work on the libuv thread pool (Argon2 off
//! the event loop) and reject with the same errors sync calls throw.

use keyscope_core::{Error, Result as CoreResult};
use napi::bindgen_prelude::*;
use napi::{Env, Task};

use crate::errors::to_js;

/// Core work to run off the event loop, and the conversion of its result.
pub struct Job<T: Send + 'static, J> {
    work: Option<Box<dyn FnOnce() -> CoreResult<T> + Send>>,
    convert: fn(T) -> J,
    error: Option<Error>,
}

impl<T: Send + 'static, J> Job<T, J> {
    /// A job running `work`, or rejecting with `early` when the arguments were bad.
    pub fn new(
        work: CoreResult<Box<dyn FnOnce() -> CoreResult<T> + Send>>,
        convert: fn(T) -> J,
    ) -> AsyncTask<Self>
    where
        J: ToNapiValue + TypeName,
    {
        let (work, error) = match work {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(e)),
        };
        AsyncTask::new(Job {
            work,
            convert,
            error,
        })
    }
}

impl<T: Send + 'static, J: ToNapiValue + TypeName> Task for Job<T, J> {
    type Output = T;
    type JsValue = J;

    fn compute(&mut self) -> Result<T> {
        let failed = || napi::Error::from_reason("keyscope call failed");
        let Some(work) = self.work.take() else {
            return Err(failed());
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.error = Some(e);
                Err(failed())
            }
            Err(_) => {
                self.error = Some(Error::new(
                    keyscope_core::ErrorKind::Internal,
                    "a keyscope call panicked",
                ));
                Err(failed())
            }
        }
    }

    fn resolve(&mut self, _env: Env, output: T) -> Result<J> {
        Ok((self.convert)(output))
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> Result<J> {
        match self.error.take() {
            Some(e) => Err(to_js(&env, &e)),
            None => Err(err),
        }
    }
}
