//! The catalog.

use std::collections::HashSet;

use sqlx::Row;

use super::{Db, StoreError};
use crate::domain::{Course, CourseDetails, CourseDraft, Money};

const COLUMNS: &str = "id, name, description, teacher, lessons, level, price_fen, on_sale";

fn row(row: &sqlx::any::AnyRow) -> Result<CourseDetails, StoreError> {
    let price: i64 = row.try_get("price_fen")?;
    let on_sale: i64 = row.try_get("on_sale")?;
    Ok(CourseDetails {
        course: Course {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            price: Money::try_from_fen(price).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            on_sale: on_sale != 0,
        },
        description: row.try_get("description")?,
        teacher: row.try_get("teacher")?,
        lessons: row.try_get("lessons")?,
        level: row.try_get("level")?,
    })
}

/// Courses on sale, by id.
pub async fn list(db: &Db) -> Result<Vec<CourseDetails>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM courses WHERE on_sale = 1 ORDER BY id"
    ))
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(row).collect()
}

/// Every course, published or not, by id (the back office).
pub async fn list_all(db: &Db) -> Result<Vec<CourseDetails>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM courses ORDER BY id"))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(row).collect()
}

/// Adds a course under the next free id.
pub async fn insert(db: &Db, draft: &CourseDraft) -> Result<i64, StoreError> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO courses (id, name, description, teacher, lessons, level, price_fen, on_sale) \
         SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7 FROM courses RETURNING id",
    )
    .bind(draft.name.trim())
    .bind(draft.description.trim())
    .bind(draft.teacher.trim())
    .bind(draft.lessons)
    .bind(draft.level.trim())
    .bind(draft.price.fen())
    .bind(i64::from(draft.published))
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    tx.commit().await?;
    Ok(id)
}

/// Rewrites a course; returns whether it exists. Orders already placed keep their own prices
/// (their lines hold them).
pub async fn update(db: &Db, id: i64, draft: &CourseDraft) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let found = sqlx::query(
        "UPDATE courses SET name = $1, description = $2, teacher = $3, lessons = $4, level = $5, price_fen = $6, on_sale = $7 WHERE id = $8",
    )
    .bind(draft.name.trim())
    .bind(draft.description.trim())
    .bind(draft.teacher.trim())
    .bind(draft.lessons)
    .bind(draft.level.trim())
    .bind(draft.price.fen())
    .bind(i64::from(draft.published))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    tx.commit().await?;
    Ok(found)
}

/// Whether `user_id` owns `course_id` (an enrolment).
pub async fn owns(db: &Db, user_id: i64, course_id: i64) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrollments WHERE user_id = $1 AND course_id = $2",
    )
    .bind(user_id)
    .bind(course_id)
    .fetch_one(db.reader())
    .await?;
    Ok(n > 0)
}

/// One course (on sale or not).
pub async fn get(db: &Db, id: i64) -> Result<Option<CourseDetails>, StoreError> {
    let found = sqlx::query(&format!("SELECT {COLUMNS} FROM courses WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    found.as_ref().map(row).transpose()
}

/// The courses among `ids` that exist, and which of them `user_id` owns already: everything
/// checkout needs, in one query (at most [`crate::domain::checkout::MAX_LINES`] + 1 ids are
/// looked up; checkout refuses longer lists anyway).
pub async fn for_checkout(
    db: &Db,
    user_id: i64,
    ids: &[i64],
) -> Result<(Vec<Course>, HashSet<i64>), StoreError> {
    let ids = &ids[..ids.len().min(crate::domain::checkout::MAX_LINES + 1)];
    if ids.is_empty() {
        return Ok((Vec::new(), HashSet::new()));
    }
    // `IN ($2, $3, …)`: portable, unlike array binds.
    let placeholders: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM enrollments e WHERE e.user_id = $1 AND e.course_id = courses.id) AS owned \
         FROM courses WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(user_id);
    for id in ids {
        query = query.bind(*id);
    }
    let mut courses = Vec::new();
    let mut owned = HashSet::new();
    for found in query.fetch_all(db.reader()).await? {
        let course = row(&found)?.course;
        let count: i64 = found.try_get("owned")?;
        if count > 0 {
            owned.insert(course.id);
        }
        courses.push(course);
    }
    Ok((courses, owned))
}

/// Fills an empty catalog with the demo courses.
pub async fn seed_demo(db: &Db) -> Result<(), StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM courses")
        .fetch_one(db.reader())
        .await?;
    if count > 0 {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (id, name, description, teacher, lessons, level, price_fen) in DEMO_COURSES {
        sqlx::query(
            "INSERT INTO courses (id, name, description, teacher, lessons, level, price_fen, on_sale) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)",
        )
        .bind(*id)
        .bind(*name)
        .bind(*description)
        .bind(*teacher)
        .bind(*lessons)
        .bind(*level)
        .bind(*price_fen)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

type DemoCourse = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
    i64,
);

const DEMO_COURSES: &[DemoCourse] = &[
    (
        1,
        "Python 全栈开发实战",
        "从语法到 Django 项目上线：数据库、REST API、部署与测试，一门课走完 Web 开发全流程。",
        "李老师",
        86,
        "入门到进阶",
        13_800,
    ),
    (
        2,
        "Rust 系统编程",
        "所有权、生命周期、并发与异步：用 Rust 写出快速又可靠的服务端程序。",
        "王老师",
        64,
        "进阶",
        19_900,
    ),
    (
        3,
        "Vue 3 前端工程化",
        "组件设计、状态管理、路由与构建优化，配合真实电商项目练习。",
        "陈老师",
        52,
        "入门",
        9_900,
    ),
    (
        4,
        "数据结构与算法精讲",
        "数组、树、图、动态规划，配套 300 道练习题与面试真题讲解。",
        "赵老师",
        120,
        "全阶段",
        16_800,
    ),
    (
        5,
        "Linux 与云原生运维",
        "Shell、systemd、容器、Kubernetes 与监控告警，从单机到集群。",
        "刘老师",
        72,
        "进阶",
        12_800,
    ),
    (
        6,
        "支付系统设计",
        "订单、支付回调、对账、退款与幂等：设计一个不丢钱的支付系统。",
        "周老师",
        40,
        "高级",
        29_900,
    ),
];
