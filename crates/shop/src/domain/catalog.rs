//! The catalog: what is for sale, at which price.

use super::Money;

/// A course as checkout prices it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Course {
    /// Catalog id.
    pub id: i64,
    /// Title.
    pub name: String,
    /// List price.
    pub price: Money,
    /// Whether it can be bought.
    pub on_sale: bool,
}

/// A course with everything its page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseDetails {
    /// Pricing view.
    pub course: Course,
    /// Long description.
    pub description: String,
    /// Who teaches it.
    pub teacher: String,
    /// Number of lessons.
    pub lessons: i64,
    /// Level (入门, 进阶 ...).
    pub level: String,
}
