//! `GET /api/v1/health`: liveness only, no database access (KoproGo's answer).

use axum::Json;
use serde_json::{Value, json};

/// 200 `{"status":"ok","service":"koprogo-api"}`.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "service": "koprogo-api" }))
}
