-- Videos that did not decode cleanly, and why.
SELECT date, camera_id, uri, status, error_message
FROM videos
WHERE status <> 'ok'
ORDER BY date, camera_id, uri;
