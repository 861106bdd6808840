-- Cameras ranked by minutes of anomalous footage over the 7 nights up to the latest one.
SELECT camera_id,
       count(*) AS intervals,
       round(sum(end_s - start_s) / 60.0, 2) AS anomaly_minutes
FROM intervals
WHERE CAST(date AS DATE) > CAST((SELECT max(date) FROM videos) AS DATE) - INTERVAL 7 DAY
GROUP BY camera_id
ORDER BY anomaly_minutes DESC, camera_id;
