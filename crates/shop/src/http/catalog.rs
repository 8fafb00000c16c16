//! The catalog: courses and their prices.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::catalog;
use crate::domain::{CourseDetails, Money};

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
    catalog::course_on_sale(&state.ctx, id)
        .await?
        .map(|details| Json(details.into()))
        .ok_or(ApiError::NotFound("course"))
}

/// Catalog routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_courses))
        .routes(routes!(get_course))
}
