<?php
/*
 * regionkit reference workload: the code shared by public/index.php and bin/migrate.
 *
 * This is NOT one of Kota Tangerang's apps. It is a small stand-in that regionkit deploys in place of every
 * web and service app in demos and tests: it reads the configuration regionkit rendered for the app, talks to
 * the app's database and reports what it sees. Written for PHP 7.4 and 8.x (the catalog's php runtimes).
 */

declare(strict_types=1);

const RKW_LABEL = 'regionkit reference workload';
const RKW_CONNECT_TIMEOUT = 2;
const RKW_TABLE = 'regionkit_workload';

/** A configuration that cannot be read or makes no sense. */
final class RkwConfigError extends RuntimeException
{
}

/** The env file to read: REGIONKIT_ENV_FILE, else the deploy's layout (<app>/shared/app.env), else ''. */
function rkw_env_file(): string
{
    $path = getenv('REGIONKIT_ENV_FILE');
    if (!is_string($path) || $path === '') {
        $path = isset($_SERVER['REGIONKIT_ENV_FILE']) && is_string($_SERVER['REGIONKIT_ENV_FILE'])
            ? $_SERVER['REGIONKIT_ENV_FILE'] : '';
    }
    if ($path !== '') {
        return $path;
    }
    // <app root>/releases/<version>/lib -> <app root>/shared/app.env
    $conventional = dirname(__DIR__, 3) . '/shared/app.env';
    return is_file($conventional) ? $conventional : '';
}

/**
 * Parse an env file as regionkit renders it: KEY=value lines, # comments, values either double-quoted JSON
 * strings or bare numbers. Returns [KEY => string|int|float].
 */
function rkw_parse_env(string $text, string $source): array
{
    $values = [];
    $lines = preg_split('/\r\n|\n|\r/', $text);
    foreach ($lines as $index => $line) {
        $line = trim($line);
        if ($line === '' || $line[0] === '#') {
            continue;
        }
        $where = sprintf('%s:%d', $source, $index + 1);
        $eq = strpos($line, '=');
        if ($eq === false) {
            throw new RkwConfigError("$where: expected KEY=value");
        }
        $key = trim((string) substr($line, 0, $eq));
        $raw = trim((string) substr($line, $eq + 1));
        if (!preg_match('/^[A-Za-z_][A-Za-z0-9_]*$/', $key)) {
            throw new RkwConfigError("$where: invalid key");
        }
        if ($raw !== '' && $raw[0] === '"') {
            $value = json_decode($raw);
            if (!is_string($value)) {
                throw new RkwConfigError("$where: $key: expected a double-quoted string");
            }
        } elseif (preg_match('/^-?[0-9]+$/', $raw)) {
            $value = (int) $raw;
        } elseif (is_numeric($raw)) {
            $value = (float) $raw;
        } else {
            $value = $raw;
        }
        $values[$key] = $value;
    }
    return $values;
}

/** The app's configuration, read from the env file (or, without one, from the process environment). */
function rkw_config(): array
{
    $path = rkw_env_file();
    if ($path === '') {
        $environment = getenv();
        if (is_array($environment) && isset($environment['APP_ID'])) {
            return rkw_normalise($environment, 'the environment');
        }
        throw new RkwConfigError('REGIONKIT_ENV_FILE is not set and no app.env was found');
    }
    if (!is_file($path) || !is_readable($path)) {
        throw new RkwConfigError("cannot read $path (REGIONKIT_ENV_FILE)");
    }
    $text = file_get_contents($path);
    if ($text === false) {
        throw new RkwConfigError("cannot read $path (REGIONKIT_ENV_FILE)");
    }
    return rkw_normalise(rkw_parse_env($text, $path), $path);
}

/** Fill in defaults and check the values the workload relies on. */
function rkw_normalise(array $values, string $source): array
{
    $text = function (string $key, string $default = '') use ($values): string {
        return isset($values[$key]) ? (string) $values[$key] : $default;
    };
    foreach (['APP_ID', 'APP_VERSION'] as $required) {
        if ($text($required) === '') {
            throw new RkwConfigError("$source: $required is missing");
        }
    }
    $engine = $text('DB_ENGINE', 'none');
    $ports = ['mariadb' => 3306, 'postgresql' => 5432, 'none' => 0];
    if (!isset($ports[$engine])) {
        throw new RkwConfigError("$source: DB_ENGINE: expected none, mariadb or postgresql");
    }
    $port = $text('DB_PORT', (string) $ports[$engine]);
    if (!preg_match('/^[0-9]{1,5}$/', $port) || (int) $port > 65535) {
        throw new RkwConfigError("$source: DB_PORT: expected a port number");
    }
    $units = $text('REGION_UNITS', '0');
    return [
        'APP_ID' => $text('APP_ID'),
        'APP_NAME' => $text('APP_NAME', $text('APP_ID')),
        'APP_VERSION' => $text('APP_VERSION'),
        'APP_URL' => $text('APP_URL'),
        'APP_HEALTH_PATH' => $text('APP_HEALTH_PATH', '/health'),
        'APP_TIMEZONE' => $text('APP_TIMEZONE', 'Asia/Jakarta'),
        'APP_KEY_FILE' => $text('APP_KEY_FILE'),
        'REGION_KEY' => $text('REGION_KEY'),
        'REGION_NAME' => $text('REGION_NAME'),
        'REGION_HEAD' => $text('REGION_HEAD'),
        'REGION_UNITS' => preg_match('/^[0-9]+$/', $units) ? (int) $units : 0,
        'REGION_LOGO' => $text('REGION_LOGO'),
        'REGION_PRIMARY_COLOUR' => rkw_colour($text('REGION_PRIMARY_COLOUR'), '#1f4e79'),
        'REGION_ACCENT_COLOUR' => rkw_colour($text('REGION_ACCENT_COLOUR'), '#f2a900'),
        'DB_ENGINE' => $engine,
        'DB_HOST' => $engine === 'none' ? null : $text('DB_HOST', '127.0.0.1'),
        'DB_PORT' => (int) $port,
        'DB_NAME' => $text('DB_NAME'),
        'DB_USER' => $text('DB_USER'),
        'DB_PASSWORD_FILE' => $text('DB_PASSWORD_FILE'),
    ];
}

function rkw_colour(string $value, string $default): string
{
    return preg_match('/^#[0-9A-Fa-f]{6}$/', $value) ? $value : $default;
}

/** A secret from its file (trailing newline dropped). The value is never printed. */
function rkw_read_secret(string $path, string $what): string
{
    if ($path === '') {
        throw new RuntimeException("no $what file is configured");
    }
    if (!is_file($path) || !is_readable($path)) {
        throw new RuntimeException("cannot read the $what file $path");
    }
    $value = file_get_contents($path);
    if ($value === false) {
        throw new RuntimeException("cannot read the $what file $path");
    }
    return rtrim($value, "\r\n");
}

/** Remove every secret from a message, and keep it to one short line. */
function rkw_scrub(string $message, array $secrets): string
{
    foreach ($secrets as $secret) {
        if (is_string($secret) && $secret !== '') {
            $message = str_replace($secret, '***', $message);
        }
    }
    $message = trim((string) preg_replace('/\s+/', ' ', $message));
    return strlen($message) > 300 ? substr($message, 0, 297) . '...' : $message;
}

/** A PDO connection to the app's database (2 s connect timeout); errors never carry the password. */
function rkw_connect(array $config): PDO
{
    $engine = $config['DB_ENGINE'];
    $host = (string) $config['DB_HOST'];
    $name = $config['DB_NAME'];
    if (!preg_match('/^[A-Za-z0-9._:\[\]-]+$/', $host)) {
        throw new RuntimeException('DB_HOST is not a host name or address');
    }
    if (!preg_match('/^[A-Za-z0-9_$-]+$/', $name)) {
        throw new RuntimeException('DB_NAME is not a database name');
    }
    $driver = $engine === 'mariadb' ? 'mysql' : 'pgsql';
    if (!in_array($driver, PDO::getAvailableDrivers(), true)) {
        throw new RuntimeException("the PHP extension pdo_$driver is not installed");
    }
    $password = rkw_read_secret($config['DB_PASSWORD_FILE'], 'database password');
    if ($driver === 'mysql') {
        $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $host, $config['DB_PORT'], $name);
    } else {
        $dsn = sprintf('pgsql:host=%s;port=%d;dbname=%s;connect_timeout=%d', $host, $config['DB_PORT'], $name,
            RKW_CONNECT_TIMEOUT);
    }
    $options = [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_TIMEOUT => RKW_CONNECT_TIMEOUT,
        PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
    ];
    try {
        $pdo = new PDO($dsn, $config['DB_USER'], $password, $options);
        $pdo->query('SELECT 1');
    } catch (PDOException $e) {
        throw new RuntimeException(rkw_scrub($e->getMessage(), [$password]));
    }
    return $pdo;
}

/**
 * The database as the health check reports it: engine, host, ok, error (and the connection, kept apart).
 * Returns [status array, PDO|null].
 */
function rkw_database(array $config): array
{
    if ($config['DB_ENGINE'] === 'none') {
        return [['engine' => 'none', 'host' => null, 'ok' => true, 'error' => null], null];
    }
    $status = ['engine' => $config['DB_ENGINE'], 'host' => $config['DB_HOST'], 'ok' => false, 'error' => null];
    try {
        $pdo = rkw_connect($config);
        $status['ok'] = true;
        return [$status, $pdo];
    } catch (Throwable $e) {
        $status['error'] = rkw_scrub($e->getMessage(), rkw_known_secrets($config));
        return [$status, null];
    }
}

/** The secrets this app could hold, to scrub them from any message. */
function rkw_known_secrets(array $config): array
{
    $secrets = [];
    foreach (['DB_PASSWORD_FILE', 'APP_KEY_FILE'] as $key) {
        $path = $config[$key] ?? '';
        if (is_string($path) && $path !== '' && is_file($path) && is_readable($path)) {
            $value = file_get_contents($path);
            if (is_string($value)) {
                $secrets[] = rtrim($value, "\r\n");
            }
        }
    }
    return $secrets;
}

/** The versions recorded by bin/migrate, or null when the table is not there (never migrated). */
function rkw_migrated_versions(PDO $pdo): ?int
{
    try {
        $row = $pdo->query('SELECT COUNT(*) AS n FROM ' . RKW_TABLE)->fetch();
        return (int) ($row['n'] ?? 0);
    } catch (Throwable $e) {
        return null;
    }
}

/** One row per app version in regionkit_workload: the note bin/migrate writes. */
function rkw_migration_note(array $config): string
{
    return sprintf('%s %s', $config['APP_ID'], $config['APP_VERSION']);
}

/** bin/migrate: create the table if missing, record this version once. Returns the exit code. */
function rkw_migrate_main(): int
{
    $out = fopen('php://stdout', 'w');
    $err = fopen('php://stderr', 'w');
    try {
        $config = rkw_config();
    } catch (RkwConfigError $e) {
        fwrite($err, 'migrate: configuration: ' . $e->getMessage() . "\n");
        return 2;
    }
    $who = rkw_migration_note($config);
    if ($config['DB_ENGINE'] === 'none') {
        fwrite($out, "migrate: $who: no database (DB_ENGINE=none), nothing to migrate\n");
        return 0;
    }
    $where = sprintf('the %s database %s at %s:%d', $config['DB_ENGINE'], $config['DB_NAME'], $config['DB_HOST'],
        $config['DB_PORT']);
    try {
        $pdo = rkw_connect($config);
    } catch (Throwable $e) {
        fwrite($err, "migrate: $who: cannot connect to $where: "
            . rkw_scrub($e->getMessage(), rkw_known_secrets($config)) . "\n");
        return 1;
    }
    try {
        if ($config['DB_ENGINE'] === 'mariadb') {
            $pdo->exec('CREATE TABLE IF NOT EXISTS ' . RKW_TABLE . ' ('
                . 'id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, '
                . 'note VARCHAR(191) NOT NULL, '
                . 'created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, '
                . 'UNIQUE KEY ' . RKW_TABLE . '_note (note)'
                . ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4');
            $insert = $pdo->prepare('INSERT IGNORE INTO ' . RKW_TABLE . ' (note) VALUES (?)');
        } else {
            $pdo->exec('CREATE TABLE IF NOT EXISTS ' . RKW_TABLE . ' ('
                . 'id SERIAL PRIMARY KEY, '
                . 'note VARCHAR(191) NOT NULL UNIQUE, '
                . 'created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP)');
            $insert = $pdo->prepare('INSERT INTO ' . RKW_TABLE . ' (note) VALUES (?) ON CONFLICT (note) DO NOTHING');
        }
        $insert->execute([$who]);
        $added = $insert->rowCount() > 0;
    } catch (Throwable $e) {
        fwrite($err, "migrate: $who: migrating $where failed: "
            . rkw_scrub($e->getMessage(), rkw_known_secrets($config)) . "\n");
        return 1;
    }
    fwrite($out, $added ? "migrate: $who: migrated $where (recorded this version)\n"
        : "migrate: $who: already migrated, nothing to do\n");
    return 0;
}

/** The request path, without query string. */
function rkw_request_path(array $server): string
{
    $uri = isset($server['REQUEST_URI']) && is_string($server['REQUEST_URI']) ? $server['REQUEST_URI'] : '/';
    $path = parse_url($uri, PHP_URL_PATH);
    return is_string($path) && $path !== '' ? $path : '/';
}

function rkw_same_path(string $a, string $b): bool
{
    $a = rtrim($a, '/');
    $b = rtrim($b, '/');
    return ($a === '' ? '/' : $a) === ($b === '' ? '/' : $b);
}

function rkw_h($value): string
{
    return htmlspecialchars((string) $value, ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML5, 'UTF-8');
}

function rkw_json($data): string
{
    return json_encode($data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE)
        . "\n";
}

/** The health document and its HTTP status. */
function rkw_health(array $config, array $database): array
{
    $ok = (bool) $database['ok'];
    $document = [
        'status' => $ok ? 'ok' : 'degraded',
        'app' => $config['APP_ID'],
        'version' => $config['APP_VERSION'],
        'region' => $config['REGION_NAME'],
        'units' => $config['REGION_UNITS'],
        'database' => $database,
    ];
    return [$ok ? 200 : 503, $document];
}

/** The logo URL when it is a plain path or an http(s) URL; '' otherwise. */
function rkw_logo_url(string $logo): string
{
    if (preg_match('#^/(?!/)[^\s"\'<>]*$#', $logo) || preg_match('#^https?://[^\s"\'<>]+$#', $logo)) {
        return $logo;
    }
    return '';
}

/** The page every other path shows: region, app, version, units and the database, in the region's colours. */
function rkw_page(array $config, array $database, ?PDO $pdo): string
{
    $c = $config;
    $primary = $c['REGION_PRIMARY_COLOUR'];
    $accent = $c['REGION_ACCENT_COLOUR'];
    $logo = rkw_logo_url($c['REGION_LOGO']);
    if ($database['engine'] === 'none') {
        $dbText = 'no database';
        $dbClass = 'ok';
    } elseif ($database['ok']) {
        $versions = $pdo ? rkw_migrated_versions($pdo) : null;
        $dbText = sprintf('%s at %s: connected, %s', $database['engine'], $database['host'],
            $versions === null ? 'not migrated yet' : sprintf('%d version(s) migrated', $versions));
        $dbClass = 'ok';
    } else {
        $dbText = sprintf('%s at %s: unreachable (%s)', $database['engine'], $database['host'], $database['error']);
        $dbClass = 'bad';
    }
    $title = trim($c['APP_NAME'] . ' - ' . $c['REGION_NAME'], ' -');
    $html = '<!doctype html>' . "\n"
        . '<html lang="id">' . "\n"
        . '<head>' . "\n"
        . '<meta charset="utf-8">' . "\n"
        . '<meta name="viewport" content="width=device-width, initial-scale=1">' . "\n"
        . '<meta name="generator" content="' . rkw_h(RKW_LABEL) . '">' . "\n"
        . '<title>' . rkw_h($title) . '</title>' . "\n"
        . '<style>' . "\n"
        . ':root { --primary: ' . $primary . '; --accent: ' . $accent . '; }' . "\n"
        . 'body { margin: 0; font-family: system-ui, sans-serif; color: #1d1d1d; background: #f6f7f9; }' . "\n"
        . 'header { display: flex; gap: 1rem; align-items: center; padding: 1rem 1.5rem; color: #fff;'
        . ' background: var(--primary); border-bottom: 6px solid var(--accent); }' . "\n"
        . 'header img { height: 64px; width: auto; }' . "\n"
        . 'header h1 { margin: 0; font-size: 1.6rem; }' . "\n"
        . 'header p { margin: .2rem 0 0; }' . "\n"
        . 'main { max-width: 48rem; margin: 1.5rem auto; padding: 0 1.5rem; }' . "\n"
        . 'dl { display: grid; grid-template-columns: max-content 1fr; gap: .5rem 1.5rem; }' . "\n"
        . 'dt { font-weight: 600; }' . "\n"
        . 'dd { margin: 0; }' . "\n"
        . '.ok { color: #17663a; } .bad { color: #a4161a; }' . "\n"
        . '.note { border-left: 4px solid var(--accent); padding: .5rem 1rem; background: #fff; }' . "\n"
        . '</style>' . "\n"
        . '</head>' . "\n"
        . '<body>' . "\n"
        . '<header>' . "\n"
        . ($logo !== '' ? '<img src="' . rkw_h($logo) . '" alt="' . rkw_h('Logo ' . $c['REGION_NAME']) . '">' . "\n"
            : '')
        . '<div><h1>' . rkw_h($c['APP_NAME']) . '</h1><p>' . rkw_h($c['REGION_NAME']) . '</p></div>' . "\n"
        . '</header>' . "\n"
        . '<main>' . "\n"
        . '<dl>' . "\n"
        . '<dt>Aplikasi / App</dt><dd>' . rkw_h($c['APP_NAME']) . ' (' . rkw_h($c['APP_ID']) . ')</dd>' . "\n"
        . '<dt>Versi / Version</dt><dd>' . rkw_h($c['APP_VERSION']) . '</dd>' . "\n"
        . '<dt>Daerah / Region</dt><dd>' . rkw_h($c['REGION_NAME'])
        . ($c['REGION_KEY'] !== '' ? ' (' . rkw_h($c['REGION_KEY']) . ')' : '') . '</dd>' . "\n"
        . '<dt>Unit kerja / Units</dt><dd>' . rkw_h($c['REGION_UNITS']) . '</dd>' . "\n"
        . '<dt>Basis data / Database</dt><dd class="' . $dbClass . '">' . rkw_h($dbText) . '</dd>' . "\n"
        . '<dt>Health</dt><dd><a href="' . rkw_h($c['APP_HEALTH_PATH']) . '">' . rkw_h($c['APP_HEALTH_PATH'])
        . '</a></dd>' . "\n"
        . '</dl>' . "\n"
        . '<p class="note">' . rkw_h(RKW_LABEL) . ': a stand-in that regionkit deploys in place of the real app in'
        . ' demos and tests. It is not an app of Kota Tangerang.</p>' . "\n"
        . '</main>' . "\n"
        . '</body>' . "\n"
        . '</html>' . "\n";
    return $html;
}

/**
 * Answer one request: [HTTP status, headers, body]. Kept free of side effects on the response, so that it can
 * be exercised from the command line.
 */
function rkw_handle(array $server): array
{
    $common = [
        'X-Content-Type-Options' => 'nosniff',
        'Cache-Control' => 'no-store',
        'Referrer-Policy' => 'no-referrer',
    ];
    try {
        $config = rkw_config();
    } catch (RkwConfigError $e) {
        error_log('regionkit workload: configuration: ' . $e->getMessage());
        $document = ['status' => 'error', 'error' => 'configuration: ' . $e->getMessage()];
        return [503, $common + ['Content-Type' => 'application/json'], rkw_json($document)];
    }
    if ($config['APP_TIMEZONE'] !== '' && in_array($config['APP_TIMEZONE'], timezone_identifiers_list(), true)) {
        date_default_timezone_set($config['APP_TIMEZONE']);
    }
    list($database, $pdo) = rkw_database($config);
    if (!$database['ok']) {
        error_log(sprintf('regionkit workload %s: database: %s', $config['APP_ID'], $database['error']));
    }
    if (rkw_same_path(rkw_request_path($server), $config['APP_HEALTH_PATH'])) {
        list($status, $document) = rkw_health($config, $database);
        return [$status, $common + ['Content-Type' => 'application/json'], rkw_json($document)];
    }
    $headers = $common + [
        'Content-Type' => 'text/html; charset=utf-8',
        'Content-Security-Policy' => "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'",
    ];
    return [200, $headers, rkw_page($config, $database, $pdo)];
}
