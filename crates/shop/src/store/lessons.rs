//! Lessons of courses.

use sqlx::Row;

use super::{Db, StoreError};
use crate::domain::catalog::Lesson;

/// A course's lessons, in order.
pub async fn for_course(db: &Db, course_id: i64) -> Result<Vec<Lesson>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, course_id, position, title, duration_secs, content FROM lessons WHERE course_id = $1 ORDER BY position",
    )
    .bind(course_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Lesson {
                id: row.try_get("id")?,
                course_id: row.try_get("course_id")?,
                position: row.try_get("position")?,
                title: row.try_get("title")?,
                duration_secs: row.try_get("duration_secs")?,
                content: row.try_get("content")?,
            })
        })
        .collect()
}

/// Gives the demo courses (ids 1 to 6) a few lessons each, unless lessons exist.
pub async fn seed_demo(db: &Db) -> Result<(), StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lessons")
        .fetch_one(db.reader())
        .await?;
    if count > 0 {
        return Ok(());
    }
    let courses: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM courses WHERE id BETWEEN 1 AND 6 ORDER BY id")
            .fetch_all(db.reader())
            .await?;
    let mut tx = db.begin().await?;
    for course_id in courses {
        for (position, (title, minutes, content)) in DEMO_LESSONS.iter().enumerate() {
            sqlx::query(
                "INSERT INTO lessons (course_id, position, title, duration_secs, content) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(course_id)
            .bind(i64::try_from(position).unwrap_or_default() + 1)
            .bind(*title)
            .bind(minutes * 60)
            .bind(*content)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

const DEMO_LESSONS: &[(&str, i64, &str)] = &[
    (
        "课程导学：你将学到什么",
        8,
        "欢迎加入本课程。这一节介绍课程结构、学习方法和配套资料的下载方式。",
    ),
    (
        "环境准备与第一个项目",
        25,
        "安装开发工具，创建第一个项目，并运行它。跟着视频一步步操作，遇到问题可以在讨论区提问。",
    ),
    (
        "核心概念精讲",
        42,
        "本节深入讲解课程的核心概念，并通过三个小练习巩固理解。",
    ),
];
