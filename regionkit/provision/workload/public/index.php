<?php
/*
 * regionkit reference workload: every request comes here (nginx try_files, or PHP's built-in server as router).
 * Not a Kota Tangerang app: a stand-in regionkit deploys for every web and service app in demos and tests.
 *
 * At APP_HEALTH_PATH it answers JSON (200 when the database is reachable or there is none, 503 otherwise);
 * every other path shows a small page with the region, the app, its version, the units and the database.
 */

declare(strict_types=1);

ini_set('display_errors', '0');
ini_set('log_errors', '1');

require dirname(__DIR__) . '/lib/workload.php';

try {
    list($status, $headers, $body) = rkw_handle($_SERVER);
} catch (Throwable $e) {
    error_log('regionkit workload: ' . get_class($e) . ': ' . $e->getMessage());
    list($status, $headers, $body) = [500, ['Content-Type' => 'text/plain; charset=utf-8'], "internal error\n"];
}
header_remove('X-Powered-By');
http_response_code($status);
foreach ($headers as $name => $value) {
    header($name . ': ' . $value);
}
echo $body;
