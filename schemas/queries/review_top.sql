-- The intervals to look at first: every interval with its video and summary, highest peak first,
-- with absolute UTC times and the camera's zone; those VA-GPT judged normal are left out.
SELECT camera_id, start_utc, end_utc, camera_tz, round(peak_score, 3) AS peak, label, kind, summary, uri
FROM review
WHERE kind IS DISTINCT FROM 'normal'
LIMIT 50
