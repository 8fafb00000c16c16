-- What a course teaches: its lessons, in order. The content (a video address or text) is
-- served to the course's owners only.
CREATE TABLE lessons (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id     INTEGER NOT NULL REFERENCES courses (id),
    position      INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    duration_secs INTEGER NOT NULL DEFAULT 0,
    content       TEXT    NOT NULL DEFAULT '',
    UNIQUE (course_id, position)
);

-- The back office lists orders by status and time, and notifications by time.
CREATE INDEX orders_by_created ON orders (created_at);
CREATE INDEX notifications_by_received ON notifications (received_at);
