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

/// A lesson of a course.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// Id.
    pub id: i64,
    /// The course.
    pub course_id: i64,
    /// Its place in the course (1, 2, …).
    pub position: i64,
    /// Title.
    pub title: String,
    /// How long, in seconds.
    pub duration_secs: i64,
    /// What is taught: a video address or text. Owners only.
    pub content: String,
}

/// A course as an operator writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseDraft {
    /// Title, 1 to 100 characters.
    pub name: String,
    /// Description, at most 4,000 characters.
    pub description: String,
    /// Teacher, at most 50 characters.
    pub teacher: String,
    /// Level, at most 20 characters.
    pub level: String,
    /// Number of lessons announced, 0 to 10,000.
    pub lessons: i64,
    /// List price: what new orders pay (orders already placed keep their price).
    pub price: Money,
    /// Whether it can be bought.
    pub published: bool,
}

/// Why a course cannot be saved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CourseError {
    /// A text field is empty, too long, or holds control characters.
    #[error("{0} must be text of the allowed length")]
    Text(&'static str),
    /// The lesson count is out of range.
    #[error("lessons must be 0 to 10000")]
    Lessons,
    /// A price Alipay would not accept.
    #[error("the price must be 0.01 to 100000000.00")]
    Price,
}

impl CourseDraft {
    /// Checks every field.
    pub fn check(&self) -> Result<(), CourseError> {
        let text = |value: &str, field: &'static str, min: usize, max: usize, newlines: bool| {
            let count = value.trim().chars().count();
            let clean = value
                .chars()
                .all(|c| !c.is_control() || (newlines && c == '\n'));
            if (min..=max).contains(&count) && clean {
                Ok(())
            } else {
                Err(CourseError::Text(field))
            }
        };
        text(&self.name, "name", 1, 100, false)?;
        text(&self.description, "description", 0, 4000, true)?;
        text(&self.teacher, "teacher", 0, 50, false)?;
        text(&self.level, "level", 0, 20, false)?;
        if !(0..=10_000).contains(&self.lessons) {
            return Err(CourseError::Lessons);
        }
        if !self.price.is_valid_trade_amount() {
            return Err(CourseError::Price);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> CourseDraft {
        CourseDraft {
            name: "Rust".into(),
            description: "line one\nline two".into(),
            teacher: "王老师".into(),
            level: "进阶".into(),
            lessons: 12,
            price: Money::from_fen(19_900),
            published: true,
        }
    }

    #[test]
    fn drafts_are_checked() {
        assert_eq!(draft().check(), Ok(()));
        let bad = |change: fn(&mut CourseDraft)| {
            let mut d = draft();
            change(&mut d);
            d.check()
        };
        assert_eq!(bad(|d| d.name = " ".into()), Err(CourseError::Text("name")));
        assert_eq!(
            bad(|d| d.name = "a\u{7}".into()),
            Err(CourseError::Text("name"))
        );
        assert_eq!(bad(|d| d.lessons = -1), Err(CourseError::Lessons));
        assert_eq!(bad(|d| d.price = Money::ZERO), Err(CourseError::Price));
    }
}
