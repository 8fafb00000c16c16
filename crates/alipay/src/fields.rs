//! Typed fields read out of parameters whose signature has been verified: the one reader behind
//! [`crate::Notification`], [`crate::ReturnParams`] and the legacy interface's notifications.

use time::OffsetDateTime;

use crate::content::Params;
use crate::money::Money;

/// A genuine message whose fields are not what its typed view needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A field the typed view needs is missing (or empty).
    #[error("field {0} is missing")]
    Missing(&'static str),
    /// A field has an unexpected form.
    #[error("field {field} has an unexpected value {value:?}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// Reads fields of verified parameters; an empty value counts as absent.
pub(crate) struct Fields<'a>(pub(crate) &'a Params);

impl Fields<'_> {
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }

    pub(crate) fn required(&self, name: &'static str) -> Result<String, FieldError> {
        self.optional(name).ok_or(FieldError::Missing(name))
    }

    pub(crate) fn money(&self, name: &'static str) -> Result<Option<Money>, FieldError> {
        self.parsed(name, |v| v.parse().ok())
    }

    pub(crate) fn time(&self, name: &'static str) -> Result<Option<OffsetDateTime>, FieldError> {
        self.parsed(name, |v| crate::time::parse(v).ok())
    }

    fn parsed<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, FieldError> {
        self.optional(name)
            .map(|v| {
                parse(&v).ok_or(FieldError::Malformed {
                    field: name,
                    value: v,
                })
            })
            .transpose()
    }
}
