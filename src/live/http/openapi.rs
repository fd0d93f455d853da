//! The OpenAPI description of the HTTP API, kept in the repository and served as is.

/// `config/openapi.yaml`, compiled in so the served description matches the binary.
pub const OPENAPI_YAML: &str = include_str!("../../../config/openapi.yaml");

#[cfg(test)]
mod tests {
    use super::*;

    /// The methods documented under each path of the description.
    fn documented() -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut path = None;
        for line in OPENAPI_YAML.lines() {
            if let Some(rest) = line.strip_prefix("  /") {
                path = rest.strip_suffix(':').map(|p| format!("/{p}"));
            } else if !line.starts_with("    ") {
                if !line.starts_with("  ") {
                    path = None;
                }
            } else if let (Some(path), Some(method)) = (&path, line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))) {
                if !method.starts_with(' ') {
                    found.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn every_route_of_the_router_is_described() {
        let documented = documented();
        for (method, path, _) in super::super::routes() {
            assert!(
                documented.contains(&(method.to_string(), path.to_owned())),
                "{method} {path} is missing from config/openapi.yaml"
            );
        }
        assert_eq!(documented.len(), super::super::routes().len(), "the description names routes the router lacks");
    }
}
