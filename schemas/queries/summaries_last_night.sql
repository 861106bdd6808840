-- Whole-video summaries (interval_id NULL) of the latest night: the kinds VA-GPT named and what happened.
SELECT camera_id, video_id, kind, judgement, description
FROM summaries
WHERE interval_id IS NULL AND date = (SELECT max(date) FROM summaries)
ORDER BY camera_id, video_id
LIMIT 20;
