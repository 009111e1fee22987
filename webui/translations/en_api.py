"""English of the API's and the request bounds' messages (webui/views/api.py, webui/bounds.py, webui/errors.py)."""

ENGLISH = {
    "上传内容过大：每个文件最多 %(size)s。": "Upload too large: each file at most %(size)s.",
    "请求内容过大：最多 %(size)s。": "Request too large: at most %(size)s.",
    "未登录：没有会话，也没有有效的令牌。": "Not signed in: no session and no valid token.",
    "无权访问。": "You may not do this.",
    "找不到此页面或资源。": "Not found.",
    "此地址不接受该请求方法。": "This address does not take this method.",
    "不支持该内容类型。": "This content type is not supported.",
    "尝试次数过多，请稍后再试。": "Too many attempts, please try again later.",
    "会话调用须在 X-CSRFToken 请求头中带上 CSRF 令牌（GET /api/v1/me 给出）。":
        "A session call carries the CSRF token in the X-CSRFToken header (GET /api/v1/me gives it).",
    "此 Idempotency-Key 已用于另一个请求（方法、地址或请求体不同）；新的请求请换一个键。":
        "This Idempotency-Key was sent with another request (another method, address or body); use a new key "
        "for a new request.",
    "使用此 Idempotency-Key 的请求仍在处理中，请稍后重试。":
        "The request with this Idempotency-Key is still being processed; try again shortly.",
    "使用此 Idempotency-Key 的请求已经执行，但它的应答未能保存；请查看相应资源的当前状态。":
        "The request with this Idempotency-Key was carried out, but its answer was not kept; read the resource "
        "for its state.",
    "过期幂等键清理": "Expired idempotency keys cleanup",
    "服务器内部错误。": "Internal server error.",
    "请先设置您自己的密码（在 /password 页面）。": "Choose your own password first (on the page /password).",
}
