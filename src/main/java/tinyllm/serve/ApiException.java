package tinyllm.serve;

/**
 * A request the server refuses, with what OpenAI's API would answer: an HTTP status and the fields of
 * {@code {"error": {"message", "type", "param", "code"}}}. The message is one line a client can act on.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String type, String param, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a parameter is missing, of the wrong type or out of range. */
    static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message);
    }

    /** 400: a parameter OpenAI has but this server does not implement. */
    static ApiException unsupported(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "unsupported_parameter", message);
    }
}
