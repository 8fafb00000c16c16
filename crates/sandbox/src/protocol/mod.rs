//! The gateway's protocol: the checks every request passes ([`check`]), how answers are written
//! ([`answer`]), the open API's methods ([`methods`]) and the retired MD5 interface ([`mapi`]).
//! Below HTTP routing ([`crate::gateway`]), above the use cases ([`crate::service`]) and the
//! pages that page methods answer with ([`crate::pages`]).

pub(crate) mod answer;
pub(crate) mod check;
pub(crate) mod mapi;
pub(crate) mod methods;
