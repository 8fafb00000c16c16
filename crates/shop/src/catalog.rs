//! The catalog use cases: what is for sale and what a course teaches (buyers), and editing it
//! (operators).

use crate::context::Context;
use crate::domain::catalog::CourseError;
use crate::domain::{CourseDetails, CourseDraft, Lesson};
use crate::store::{StoreError, courses, lessons};

/// What went wrong with the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such course (or not on sale, for buyers).
    #[error("course not found")]
    NotFound,
    /// The lessons' content is for the course's owners.
    #[error("buy the course to study its lessons")]
    NotOwned,
    /// A course that cannot be saved.
    #[error(transparent)]
    Invalid(#[from] CourseError),
    /// The catalog could not be read or written.
    #[error("the catalog could not be read: {0}")]
    Store(#[from] StoreError),
}

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

/// The outline of a course on sale: its lessons without their content (public).
pub async fn outline(ctx: &Context, id: i64) -> Result<Vec<Lesson>, CatalogError> {
    Ok(lessons::for_course(&ctx.db, id)
        .await?
        .into_iter()
        .map(|lesson| Lesson {
            content: String::new(),
            ..lesson
        })
        .collect())
}

/// The lessons of a course with their content, for a buyer who owns it.
pub async fn lessons_for(
    ctx: &Context,
    user_id: i64,
    course_id: i64,
) -> Result<Vec<Lesson>, CatalogError> {
    if courses::get(&ctx.db, course_id).await?.is_none() {
        return Err(CatalogError::NotFound);
    }
    if !courses::owns(&ctx.db, user_id, course_id).await? {
        return Err(CatalogError::NotOwned);
    }
    Ok(lessons::for_course(&ctx.db, course_id).await?)
}

/// Every course, published or not (operators).
pub async fn all_courses(ctx: &Context) -> Result<Vec<CourseDetails>, CatalogError> {
    Ok(courses::list_all(&ctx.db).await?)
}

/// Adds a course (operators); returns it.
pub async fn create_course(
    ctx: &Context,
    operator_id: i64,
    draft: &CourseDraft,
) -> Result<CourseDetails, CatalogError> {
    draft.check()?;
    let id = courses::insert(&ctx.db, draft).await?;
    tracing::info!(course.id = id, operator.id = operator_id, "course created");
    courses::get(&ctx.db, id)
        .await?
        .ok_or(CatalogError::NotFound)
}

/// Changes a course (operators). A new price applies to new orders only: placed orders keep
/// the price of their lines.
pub async fn update_course(
    ctx: &Context,
    operator_id: i64,
    id: i64,
    draft: &CourseDraft,
) -> Result<CourseDetails, CatalogError> {
    draft.check()?;
    if !courses::update(&ctx.db, id, draft).await? {
        return Err(CatalogError::NotFound);
    }
    tracing::info!(course.id = id, operator.id = operator_id, "course updated");
    courses::get(&ctx.db, id)
        .await?
        .ok_or(CatalogError::NotFound)
}

/// Fills an empty catalog with the demo courses and their lessons (demo mode only).
pub async fn seed_demo(db: &crate::store::Db) -> Result<(), StoreError> {
    courses::seed_demo(db).await?;
    lessons::seed_demo(db).await
}
