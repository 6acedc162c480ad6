"""Topic-scoped discussion: topics by tier, threads, posts, moderation, search, notifications."""
