//! Topic names, topic filters and matching (MQTT 5.0 section 4.7).

use super::wire::check_string;

/// Checks a topic name as a PUBLISH carries it: a valid MQTT string, at least one
/// character, no wildcard (`+`, `#`).
///
/// # Errors
///
/// A description of the rule broken.
pub fn validate_topic_name(topic: &str) -> Result<(), &'static str> {
    check_string(topic)?;
    if topic.is_empty() {
        return Err("empty topic name");
    }
    if topic.contains(['+', '#']) {
        return Err("wildcard in topic name");
    }
    Ok(())
}

/// Checks a topic filter as a SUBSCRIBE carries it: a valid MQTT string, at least
/// one character, `+` only as a whole level, `#` only as the whole last level, and
/// for a shared subscription (`$share/NAME/FILTER`) a non-empty share name without
/// wildcards followed by a valid filter.
///
/// # Errors
///
/// A description of the rule broken.
pub fn validate_topic_filter(filter: &str) -> Result<(), &'static str> {
    check_string(filter)?;
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => {
            let (name, inner) = rest
                .split_once('/')
                .ok_or("shared subscription without filter")?;
            if name.is_empty() || name.contains(['+', '#']) {
                return Err("invalid share name");
            }
            inner
        }
        None => filter,
    };
    if filter.is_empty() {
        return Err("empty topic filter");
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err("'#' must be the whole last level");
        }
        if level.contains('+') && level != "+" {
            return Err("'+' must be a whole level");
        }
    }
    Ok(())
}

/// A topic filter checked once, to be matched against many topic names: what a
/// subscription table keeps. [`topic_matches`] checks both sides on every call.
///
/// ```
/// use portnet_mqtt::codec::TopicFilter;
///
/// let filter = TopicFilter::new("sensors/+/temp").unwrap();
/// assert!(filter.matches("sensors/kitchen/temp"));
/// assert!(!filter.matches("sensors/kitchen/humidity"));
/// assert!(TopicFilter::new("sensors/#/temp").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicFilter<'a> {
    /// The filter as given.
    filter: &'a str,
    /// What is matched: the filter without a `$share/NAME/` prefix.
    pattern: &'a str,
}

impl<'a> TopicFilter<'a> {
    /// Checks `filter` as [`validate_topic_filter`] does.
    ///
    /// # Errors
    ///
    /// A description of the rule broken.
    pub fn new(filter: &'a str) -> Result<Self, &'static str> {
        validate_topic_filter(filter)?;
        let pattern = match filter
            .strip_prefix("$share/")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((_, inner)) => inner,
            None => filter,
        };
        Ok(Self { filter, pattern })
    }

    /// The filter as given (with its `$share/NAME/` prefix, if any).
    pub fn as_str(&self) -> &'a str {
        self.filter
    }

    /// True when topic name `topic` matches, by the rules of [`topic_matches`].
    ///
    /// `topic` is not checked: it must be a valid topic name, as the topic of
    /// every received PUBLISH is (the decoder checks it). For a string that is
    /// not one the answer is unspecified, but there is no panic.
    pub fn matches(&self, topic: &str) -> bool {
        let filter = self.pattern;
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let mut f = filter.split('/');
        let mut t = topic.split('/');
        loop {
            match (f.next(), t.next()) {
                (Some("#"), _) => return true,
                (Some("+"), Some(_)) => {}
                (Some(fl), Some(tl)) if fl == tl => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

/// True when topic name `topic` matches topic filter `filter`.
///
/// `+` matches one level, `#` the parent level and any number of levels below;
/// a filter starting with a wildcard does not match topics starting with `$`
/// (\[MQTT-4.7.2-1\]). For a shared subscription `$share/NAME/FILTER`, `FILTER` is
/// matched. Invalid filters or names match nothing. To match one filter against
/// many topics, check it once with [`TopicFilter`].
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if validate_topic_name(topic).is_err() {
        return false;
    }
    TopicFilter::new(filter).is_ok_and(|filter| filter.matches(topic))
}
