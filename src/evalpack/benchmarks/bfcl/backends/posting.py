"""TwitterAPI: posting, retweeting, commenting, following (BFCL multi-turn backend)."""

from __future__ import annotations

from evalpack.benchmarks.bfcl.backends.base import Backend, config_value

DEFAULTS = {"username": "john", "password": "john123", "authenticated": False, "tweets": {},
            "comments": {}, "retweets": {}, "following_list": ["alice", "bob"], "tweet_counter": 0}


def _auth_error(action: str) -> dict:
    return {"error": f"User not authenticated. Please authenticate before {action}."}


class TwitterAPI(Backend):
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        self._noise = noise or {}
        for key, default in DEFAULTS.items():
            setattr(self, key, config_value(config, key, default))
        self.tweets = {int(k): v for k, v in self.tweets.items()}

    def authenticate_twitter(self, username: str, password: str):
        if username == self.username and password == self.password:
            self.authenticated = True
            return {"authentication_status": True}
        return {"authentication_status": False}

    def posting_get_login_status(self):
        return {"login_status": bool(self.authenticated)}

    def post_tweet(self, content: str, tags: list | None = None, mentions: list | None = None):
        if not self.authenticated:
            return _auth_error("posting")
        tweet = {"id": self.tweet_counter, "username": self.username, "content": content,
                 "tags": list(tags) if tags is not None else [],
                 "mentions": list(mentions) if mentions is not None else []}
        self.tweets[self.tweet_counter] = tweet
        self.tweet_counter += 1
        return tweet

    def retweet(self, tweet_id: int):
        if not self.authenticated:
            return _auth_error("retweeting")
        if tweet_id not in self.tweets:
            return {"error": f"Tweet with ID {tweet_id} not found."}
        mine = self.retweets.setdefault(self.username, [])
        if tweet_id in mine:
            return {"retweet_status": "Already retweeted"}
        mine.append(tweet_id)
        return {"retweet_status": "Successfully retweeted"}

    def comment(self, tweet_id: int, comment_content: str):
        if not self.authenticated:
            return _auth_error("commenting")
        if tweet_id not in self.tweets:
            return {"error": f"Tweet with ID {tweet_id} not found."}
        self.comments.setdefault(tweet_id, []).append({"username": self.username, "content": comment_content})
        return {"comment_status": "Comment added successfully"}

    def mention(self, tweet_id: int, mentioned_usernames: list):
        if tweet_id not in self.tweets:
            return {"error": f"Tweet with ID {tweet_id} not found."}
        self.tweets[tweet_id]["mentions"].extend(mentioned_usernames)
        return {"mention_status": "Users mentioned successfully"}

    def follow_user(self, username_to_follow: str):
        if not self.authenticated:
            return _auth_error("following")
        if username_to_follow in self.following_list:
            return {"follow_status": False}
        self.following_list.append(username_to_follow)
        return {"follow_status": True}

    def list_all_following(self):
        if not self.authenticated:
            return _auth_error("listing following")
        return {"following_list": self.following_list}

    def unfollow_user(self, username_to_unfollow: str):
        if not self.authenticated:
            return _auth_error("unfollowing")
        if username_to_unfollow not in self.following_list:
            return {"unfollow_status": False}
        self.following_list.remove(username_to_unfollow)
        return {"unfollow_status": True}

    def get_tweet(self, tweet_id: int):
        if tweet_id not in self.tweets:
            return {"error": f"Tweet with ID {tweet_id} not found."}
        return self.tweets[tweet_id]

    def get_user_tweets(self, username: str):
        return [t for t in self.tweets.values() if t["username"] == username]

    def search_tweets(self, keyword: str):
        needle = keyword.lower()
        return [t for t in self.tweets.values()
                if needle in t["content"].lower() or needle in [tag.lower() for tag in t["tags"]]]

    def get_tweet_comments(self, tweet_id: int):
        if tweet_id not in self.tweets:
            return {"error": f"Tweet with ID {tweet_id} not found."}
        return self.comments.get(tweet_id, [])

    def get_user_stats(self, username: str):
        return {"tweet_count": sum(1 for t in self.tweets.values() if t["username"] == username),
                "following_count": len(self.following_list) if username == self.username else 0,
                "retweet_count": len(self.retweets.get(username, []))}
