-- The three strongest anomaly intervals per camera on the most recent night in the results.
SELECT camera_id, date, video_id, interval_id,
       round(start_s, 1) AS start_s, round(end_s, 1) AS end_s,
       round(CAST(peak_score AS DOUBLE), 3) AS peak_score, label
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY camera_id ORDER BY peak_score DESC, start_s, video_id, interval_id  -- ties: the same rank every run
    ) AS rank
    FROM intervals
    WHERE date = (SELECT max(date) FROM videos)
)
WHERE rank <= 3
ORDER BY camera_id, rank;
