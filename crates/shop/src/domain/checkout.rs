//! Pricing an order on the server: the client's total is a claim to check, never a price to use.

use std::collections::HashSet;

use super::Money;
use super::catalog::Course;

/// One priced line of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The course.
    pub course_id: i64,
    /// Its title at the time of purchase.
    pub name: String,
    /// The list price.
    pub price: Money,
    /// What the buyer pays for it (the list price; discounts would go here).
    pub real_price: Money,
}

/// A checked, priced order, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced {
    /// The lines, in the order asked for.
    pub lines: Vec<Line>,
    /// The sum of `real_price`.
    pub total: Money,
    /// What the buyer sees in Alipay's cashier.
    pub subject: String,
}

/// Why an order cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// No course asked for.
    #[error("an order needs at least one course")]
    Empty,
    /// More lines than one order may hold.
    #[error("an order holds at most {0} courses")]
    TooMany(usize),
    /// The same course twice.
    #[error("course {0} is listed twice")]
    Duplicate(i64),
    /// Not in the catalog (or not for sale).
    #[error("course {0} does not exist")]
    UnknownCourse(i64),
    /// The buyer owns it already.
    #[error("you already own course {0}")]
    AlreadyOwned(i64),
    /// The client's total is not the catalog's.
    #[error("the order total changed: the courses cost {expected}, not {claimed}")]
    PriceMismatch {
        /// What the catalog says.
        expected: Money,
        /// What the client sent.
        claimed: Money,
    },
    /// The total is outside what Alipay accepts.
    #[error("the order total {0} is outside what Alipay accepts (0.01 to 100000000.00)")]
    AmountOutOfRange(Money),
    /// A caller-supplied subject is unusable.
    #[error("subject must be 1 to 256 characters")]
    Subject,
}

/// The most courses one order may hold.
pub const MAX_LINES: usize = 50;

/// Prices `course_ids` from `catalog` (the courses found for those ids), for a buyer who owns
/// `owned`, and checks the client's `claimed` total.
pub fn price(
    course_ids: &[i64],
    catalog: &[Course],
    owned: &HashSet<i64>,
    claimed: Money,
    subject: Option<&str>,
) -> Result<Priced, CheckoutError> {
    if course_ids.is_empty() {
        return Err(CheckoutError::Empty);
    }
    if course_ids.len() > MAX_LINES {
        return Err(CheckoutError::TooMany(MAX_LINES));
    }
    let mut seen = HashSet::new();
    let mut lines = Vec::with_capacity(course_ids.len());
    for &id in course_ids {
        if !seen.insert(id) {
            return Err(CheckoutError::Duplicate(id));
        }
        let course = catalog
            .iter()
            .find(|c| c.id == id && c.on_sale)
            .ok_or(CheckoutError::UnknownCourse(id))?;
        if owned.contains(&id) {
            return Err(CheckoutError::AlreadyOwned(id));
        }
        lines.push(Line {
            course_id: id,
            name: course.name.clone(),
            price: course.price,
            real_price: course.price,
        });
    }
    let total = lines
        .iter()
        .try_fold(Money::ZERO, |sum, line| sum.checked_add(line.real_price))
        .ok_or(CheckoutError::AmountOutOfRange(Money::MAX_TRADE))?;
    if total != claimed {
        return Err(CheckoutError::PriceMismatch {
            expected: total,
            claimed,
        });
    }
    if !total.is_valid_trade_amount() {
        return Err(CheckoutError::AmountOutOfRange(total));
    }
    let subject = match subject.map(str::trim) {
        Some(s) if s.is_empty() || s.chars().count() > 256 || s.chars().any(char::is_control) => {
            return Err(CheckoutError::Subject);
        }
        Some(s) => s.to_owned(),
        None => default_subject(&lines),
    };
    Ok(Priced {
        lines,
        total,
        subject,
    })
}

/// "Course A" or "Course A 等 3 门课程", cut to Alipay's 256 characters.
fn default_subject(lines: &[Line]) -> String {
    let first = &lines[0].name;
    let subject = if lines.len() == 1 {
        first.clone()
    } else {
        format!("{first} 等 {} 门课程", lines.len())
    };
    subject.chars().take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<Course> {
        vec![
            Course {
                id: 1,
                name: "Python".into(),
                price: Money::from_fen(13_800),
                on_sale: true,
            },
            Course {
                id: 2,
                name: "Rust".into(),
                price: Money::from_fen(13_800),
                on_sale: true,
            },
            Course {
                id: 3,
                name: "Retired".into(),
                price: Money::from_fen(100),
                on_sale: false,
            },
        ]
    }

    #[test]
    fn prices_from_the_catalog() {
        let priced = price(
            &[1, 2],
            &catalog(),
            &HashSet::new(),
            Money::from_fen(27_600),
            None,
        )
        .unwrap();
        assert_eq!(priced.total, Money::from_fen(27_600));
        assert_eq!(priced.subject, "Python 等 2 门课程");
        assert_eq!(priced.lines[1].course_id, 2);
    }

    #[test]
    fn a_tampered_total_is_refused() {
        let err = price(&[1], &catalog(), &HashSet::new(), Money::from_fen(1), None).unwrap_err();
        assert_eq!(
            err,
            CheckoutError::PriceMismatch {
                expected: Money::from_fen(13_800),
                claimed: Money::from_fen(1)
            }
        );
    }

    #[test]
    fn bad_selections_are_refused() {
        let none = HashSet::new();
        let any = Money::from_fen(13_800);
        assert_eq!(
            price(&[], &catalog(), &none, any, None),
            Err(CheckoutError::Empty)
        );
        assert_eq!(
            price(&[1, 1], &catalog(), &none, any, None),
            Err(CheckoutError::Duplicate(1))
        );
        assert_eq!(
            price(&[9], &catalog(), &none, any, None),
            Err(CheckoutError::UnknownCourse(9))
        );
        assert_eq!(
            price(&[3], &catalog(), &none, any, None),
            Err(CheckoutError::UnknownCourse(3))
        );
        let owned = HashSet::from([1]);
        assert_eq!(
            price(&[1], &catalog(), &owned, any, None),
            Err(CheckoutError::AlreadyOwned(1))
        );
        assert_eq!(
            price(&[1], &catalog(), &none, any, Some(" ")),
            Err(CheckoutError::Subject)
        );
        assert_eq!(
            price(&[1], &catalog(), &none, any, Some("a\0b")),
            Err(CheckoutError::Subject)
        );
        let many: Vec<i64> = (0..=MAX_LINES as i64).collect();
        assert_eq!(
            price(&many, &catalog(), &none, any, None),
            Err(CheckoutError::TooMany(MAX_LINES))
        );
    }
}
