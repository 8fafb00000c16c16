//! The catalog: courses and their prices.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::AuthUser;
use super::error::{ApiError, ErrorBody};
use crate::catalog;
use crate::domain::{CourseDetails, Lesson, Money};

/// A course on sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseView {
    /// Id, used in orders.
    pub id: i64,
    /// Title.
    pub name: String,
    /// Description.
    pub description: String,
    /// Teacher.
    pub teacher: String,
    /// Number of lessons.
    pub lessons: i64,
    /// Level.
    pub level: String,
    /// Price in yuan.
    #[schema(value_type = String, example = "138.00")]
    pub price: Money,
    /// Whether it can be bought (always true for buyers; operators see withdrawn ones too).
    pub published: bool,
    /// Its lessons without their content (in a course's own page; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outline: Option<Vec<LessonView>>,
}

/// A lesson.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonView {
    /// Its place in the course.
    pub position: i64,
    /// Title.
    pub title: String,
    /// Length in seconds.
    pub duration_secs: i64,
    /// A video address or text: owners only (absent in the outline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl LessonView {
    fn new(lesson: Lesson, with_content: bool) -> LessonView {
        LessonView {
            position: lesson.position,
            title: lesson.title,
            duration_secs: lesson.duration_secs,
            content: with_content.then_some(lesson.content),
        }
    }
}

impl From<CourseDetails> for CourseView {
    fn from(row: CourseDetails) -> CourseView {
        CourseView {
            id: row.course.id,
            name: row.course.name,
            description: row.description,
            teacher: row.teacher,
            lessons: row.lessons,
            level: row.level,
            price: row.course.price,
            published: row.course.on_sale,
            outline: None,
        }
    }
}

/// Courses on sale.
#[utoipa::path(get, path = "/api/courses", tag = "catalog", responses((status = 200, body = [CourseView])))]
async fn list_courses(State(state): State<AppState>) -> Result<Json<Vec<CourseView>>, ApiError> {
    Ok(Json(
        catalog::on_sale(&state.ctx)
            .await?
            .into_iter()
            .map(CourseView::from)
            .collect(),
    ))
}

/// One course.
#[utoipa::path(get, path = "/api/courses/{id}", tag = "catalog", params(("id" = i64, Path, description = "course id")),
    responses((status = 200, body = CourseView), (status = 404, body = ErrorBody)))]
async fn get_course(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CourseView>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("course"))?;
    let details = catalog::course_on_sale(&state.ctx, id)
        .await?
        .ok_or(ApiError::NotFound("course"))?;
    let outline = catalog::outline(&state.ctx, id).await?;
    let mut view = CourseView::from(details);
    view.outline = Some(
        outline
            .into_iter()
            .map(|l| LessonView::new(l, false))
            .collect(),
    );
    Ok(Json(view))
}

/// A course's lessons with their content: for buyers who own the course (403 otherwise; the
/// outline without content is in the course itself).
#[utoipa::path(get, path = "/api/courses/{id}/lessons", tag = "catalog", params(("id" = i64, Path, description = "course id")),
    responses((status = 200, body = [LessonView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn course_lessons(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<LessonView>>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("course"))?;
    let lessons = catalog::lessons_for(&state.ctx, user.id, id).await?;
    Ok(Json(
        lessons
            .into_iter()
            .map(|l| LessonView::new(l, true))
            .collect(),
    ))
}

/// Catalog routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_courses))
        .routes(routes!(get_course))
        .routes(routes!(course_lessons))
}
