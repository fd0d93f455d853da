//! Bearer-token authorisation (RFC 6750 §2.1) against the tokens of `[api]`.

use axum::http::{header, HeaderMap};

use crate::config::{ApiRole, ApiToken};

use super::error::ApiError;

/// The token presented in `headers` if it is one of `tokens` and its role covers
/// `required`: 401 without a known token, 403 when the role is too weak.
pub fn authorize<'a>(headers: &HeaderMap, tokens: &'a [ApiToken], required: ApiRole) -> Result<&'a ApiToken, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let token = tokens
        .iter()
        .find(|token| constant_time_eq(token.token.as_bytes(), presented.as_bytes()))
        .ok_or_else(ApiError::unauthorized)?;
    if token.role >= required {
        Ok(token)
    } else {
        Err(ApiError::forbidden())
    }
}

/// Compares without stopping at the first difference, so response time does not tell an
/// attacker how much of a token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, StatusCode};

    fn tokens() -> Vec<ApiToken> {
        vec![
            ApiToken { name: "wallboard".into(), token: "read-token-0123456789".into(), role: ApiRole::Read },
            ApiToken { name: "lead".into(), token: "supervise-token-012345".into(), role: ApiRole::Supervise },
        ]
    }

    fn with_bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("ascii"));
        headers
    }

    #[test]
    fn roles_are_ordered_and_unknown_tokens_refused() {
        let tokens = tokens();
        let status = |headers: &HeaderMap, role| authorize(headers, &tokens, role).map(|t| t.name.clone()).map_err(|e| e.status);
        assert_eq!(status(&HeaderMap::new(), ApiRole::Read), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(status(&with_bearer("read-token-012345678"), ApiRole::Read), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(status(&with_bearer("read-token-0123456789"), ApiRole::Read), Ok("wallboard".to_owned()));
        assert_eq!(status(&with_bearer("read-token-0123456789"), ApiRole::Supervise), Err(StatusCode::FORBIDDEN));
        assert_eq!(status(&with_bearer("supervise-token-012345"), ApiRole::Read), Ok("lead".to_owned()));
    }
}
