#ifndef WAFER_CCURL_SHIM_H
#define WAFER_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt is variadic, which Swift cannot call: one typed wrapper per
// kind of argument the upstream client sets.
static inline CURLcode wafer_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode wafer_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode wafer_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode wafer_curl_set_headers(CURL *handle, struct curl_slist *headers) {
    return curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
}
typedef size_t (*wafer_curl_write_callback)(char *data, size_t size, size_t count, void *context);
static inline CURLcode wafer_curl_set_write(CURL *handle, wafer_curl_write_callback callback, void *context) {
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, context);
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
typedef int (*wafer_curl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static inline CURLcode wafer_curl_set_progress(CURL *handle, wafer_curl_progress_callback callback, void *context) {
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, context);
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}
static inline long wafer_curl_status(CURL *handle) {
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

#endif
