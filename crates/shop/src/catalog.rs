//! The catalog use cases: what is for sale (buyers) and editing it (operators).

use crate::context::Context;
use crate::domain::CourseDetails;
use crate::store::{StoreError, courses};

/// The catalog could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the catalog could not be read: {0}")]
pub struct CatalogError(#[from] StoreError);

/// Courses on sale, by id.
pub async fn on_sale(ctx: &Context) -> Result<Vec<CourseDetails>, CatalogError> {
    Ok(courses::list(&ctx.db).await?)
}

/// One course, if it is on sale (a withdrawn course is "not found" to buyers).
pub async fn course_on_sale(ctx: &Context, id: i64) -> Result<Option<CourseDetails>, CatalogError> {
    Ok(courses::get(&ctx.db, id)
        .await?
        .filter(|details| details.course.on_sale))
}

/// Fills an empty catalog with the demo courses (demo mode only).
pub async fn seed_demo(db: &crate::store::Db) -> Result<(), StoreError> {
    courses::seed_demo(db).await
}
