/*
 * Kiln's guest init (PID 1), one static program for both stages of a boot.
 *
 * Contract with the host (kiln-vm's GuestConsole and ConfigDrive):
 *   - the config drive (virtio disk with serial kiln-config) is a tar holding config.json and kiln.env, the same
 *     settings rendered as shell assignments, job.env (the job's environment, the same form) and command.sh;
 *   - "<RS>KILN-READY:<nonce>" on the console proves the boot; the command's stdout goes to the console and its
 *     stderr to the second line, byte for byte; "<RS>KILN-EXIT:<nonce>:<code>" on the console reports its exit.
 *     The console is ttyS0 and the second line ttyS1 on x86_64 (microvm's ISA serial), ttyAMA0 and hvc0 on arm64
 *     (virt's PL011 and a virtio console: virt has no second UART);
 *   - then the guest resets, which ends the VMM (-no-reboot);
 *   - before the ready marker, "<RS>KILN-PHASE:<name>:<uptime>" lines on the console mark the boot's phases (init,
 *     network, sshd here; dockerd from the runner image's hooks); the host notes when each arrives.
 *
 * Started as /sbin/kiln-root (Kiln's kernel: init=/sbin/kiln-root, the image's root mounted read-only on /dev/vda),
 * it first stacks the VM's writable scratch disk over that root and pivots into the overlay; started as
 * /sbin/kiln-init (by the initrd of Debian's cloud kernel, the fallback, after its switch_root) it finds the overlay
 * made. An image adds work through two hooks, run as root with this init's PATH and KILN_CONSOLE:
 * /usr/lib/kiln/guest-early (as soon as the network is up: for work started in the background, beside the rest of the
 * boot) and /usr/lib/kiln/guest-hooks (last before the ready marker: for waiting on that work).
 *
 * Why a compiled program: under emulation every program a shell starts costs 5 ms (a static one) to 60 ms (a
 * dynamic one such as ip or setpriv), and a shell init started dozens. Here the boot is system calls; the only
 * programs started are the image's hooks, sshd when asked, and the job.
 *
 * Nothing here prints a secret: kiln.env and job.env are read, never echoed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define JOB_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CFG "/run/kiln/cfg"
#define RS "\036"

static const char *console = "/dev/console";
static const char *stage = "kiln-init";

static void write_all(int fd, const char *text, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, text, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        length -= (size_t) n;
    }
}

static void say(const char *format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t) n >= sizeof line) n = sizeof line - 1;
    int fd = open(console, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return;
    write_all(fd, line, (size_t) n);
    close(fd);
}

/* No exit marker is ever printed after this: the host reports a failed boot with this line in the console's tail. */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *format, ...) {
    char why[768];
    va_list args;
    va_start(args, format);
    vsnprintf(why, sizeof why, format, args);
    va_end(args);
    say("%s: %s\n", stage, why);
    sync();
    reboot(RB_AUTOBOOT);
    _exit(1);
}

static void phase(const char *name) {
    char up[64] = "0";
    int fd = open("/proc/uptime", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, up, sizeof up - 1);
        close(fd);
        up[n > 0 ? n : 0] = 0;
        up[strcspn(up, " \n")] = 0;
    }
    say(RS "KILN-PHASE:%s:%s\n", name, up);
}

static void must_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
    if (mount(source, target, type, flags, data) != 0)
        die("cannot mount %s on %s (%s): %s", source, target, type ? type : "move", strerror(errno));
}

static void make_dirs(const char *path, mode_t mode) {
    char partial[512];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *slash = partial + 1; *slash; slash++) {
        if (*slash != '/') continue;
        *slash = 0;
        if (mkdir(partial, 0755) != 0 && errno != EEXIST) die("cannot make %s: %s", partial, strerror(errno));
        *slash = '/';
    }
    if (mkdir(partial, mode) != 0 && errno != EEXIST) die("cannot make %s: %s", partial, strerror(errno));
}

/* Reads a small file whole (NUL-terminated; its length in *length when asked); NULL if it cannot be read. */
static char *slurp(const char *path, size_t *length) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity + 1);
    for (;;) {
        if (size == capacity) text = realloc(text, (capacity *= 2) + 1);
        ssize_t n = read(fd, text + size, capacity - size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size += (size_t) n;
    }
    close(fd);
    text[size] = 0;
    if (length) *length = size;
    return text;
}

static void spew(const char *path, const char *text, size_t length, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) die("cannot write %s: %s", path, strerror(errno));
    write_all(fd, text, length);
    if (fchmod(fd, mode) != 0) die("cannot set the mode of %s: %s", path, strerror(errno));
    close(fd);
}

/* A kernel setting: the file exists and has no mode to set. */
static void set_proc(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die("cannot set %s: %s", path, strerror(errno));
    write_all(fd, value, strlen(value));
    close(fd);
}

static void spew_text(const char *path, const char *text) {
    spew(path, text, strlen(text), 0644);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
    size_t length;
    char *text = slurp(from, &length);
    if (!text) die("cannot read %s: %s", from, strerror(errno));
    spew(to, text, length, mode);
    free(text);
}

/* The disk the host gave this serial (virtio-blk's serial in sysfs), as /dev/vdX; NULL if none. */
static const char *disk_with_serial(const char *wanted) {
    static char device[300];
    DIR *block = opendir("/sys/block");
    if (!block) die("cannot list /sys/block: %s", strerror(errno));
    const char *found = NULL;
    struct dirent *entry;
    while (!found && (entry = readdir(block))) {
        if (strncmp(entry->d_name, "vd", 2) != 0) continue;
        char path[300];
        snprintf(path, sizeof path, "/sys/block/%s/serial", entry->d_name);
        char *serial = slurp(path, NULL);
        if (serial) {
            serial[strcspn(serial, "\n")] = 0;
            if (strcmp(serial, wanted) == 0) {
                snprintf(device, sizeof device, "/dev/%s", entry->d_name);
                found = device;
            }
            free(serial);
        }
    }
    closedir(block);
    return found;
}

/* Kiln's kernel mounted the image's root read-only on /: the VM's overlay goes over it, in a tmpfs's mount points. */
static void stack_overlay(void) {
    stage = "kiln-root";
    must_mount("proc", "/proc", "proc", 0, NULL);
    must_mount("sysfs", "/sys", "sysfs", 0, NULL);
    struct stat null;
    if (stat("/dev/null", &null) != 0 || !S_ISCHR(null.st_mode)) must_mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    phase("init");
    char *root_serial = slurp("/sys/block/vda/serial", NULL);
    if (!root_serial || strncmp(root_serial, "kiln-root", 9) != 0 || (root_serial[9] && root_serial[9] != '\n'))
        die("the kernel's root /dev/vda is not the image's root disk (serial kiln-root)");
    free(root_serial);
    const char *scratch = disk_with_serial("kiln-scratch");
    if (!scratch) die("no scratch disk (serial kiln-scratch)");
    must_mount("tmpfs", "/run", "tmpfs", 0, "mode=755");
    make_dirs("/run/scratch", 0755);
    make_dirs("/run/newroot", 0755);
    must_mount(scratch, "/run/scratch", "ext4", MS_NOATIME, NULL);
    make_dirs("/run/scratch/root/upper", 0755);
    make_dirs("/run/scratch/root/work", 0755);
    must_mount("overlay", "/run/newroot", "overlay", 0,
            "lowerdir=/,upperdir=/run/scratch/root/upper,workdir=/run/scratch/root/work");
    /* The guest keeps the raw scratch disk: Docker's overlay2 cannot sit on an overlay. */
    make_dirs("/run/newroot/run/kiln/scratch", 0755);
    make_dirs("/run/newroot/run/kiln/base", 0755);
    must_mount("/run/scratch", "/run/newroot/run/kiln/scratch", NULL, MS_MOVE, NULL);
    must_mount("/dev", "/run/newroot/dev", NULL, MS_MOVE, NULL);
    if (umount("/proc") != 0 || umount("/sys") != 0) die("cannot unmount /proc and /sys: %s", strerror(errno));
    if (chdir("/run/newroot") != 0) die("cannot enter /run/newroot: %s", strerror(errno));
    if (syscall(SYS_pivot_root, ".", "run/kiln/base") != 0) die("pivot_root into the overlay failed: %s", strerror(errno));
    if (chroot(".") != 0 || chdir("/") != 0) die("cannot enter the overlay root: %s", strerror(errno));
    stage = "kiln-init";
}

/* Programs load from the disks by page faults: a 4 MiB read-ahead (128 KiB by default) takes a big binary in a tenth
   of the requests, each of which costs an exit to the VMM (dockerd's cold start under emulation: 1.0 s -> 0.9 s,
   containerd's 0.6 s -> 0.3 s). */
static void read_ahead(const char *serial) {
    const char *disk = disk_with_serial(serial);
    if (!disk) return;
    char path[340];
    snprintf(path, sizeof path, "/sys/block/%s/queue/read_ahead_kb", disk + strlen("/dev/"));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return; /* only slower without it */
    write_all(fd, "4096\n", 5);
    close(fd);
}

/* Runs an image's hook, if it has it, and waits for it (what it starts in the background runs on). */
static void hook(const char *path) {
    if (access(path, X_OK) != 0) return;
    pid_t child = fork();
    if (child < 0) die("cannot start %s: %s", path, strerror(errno));
    if (child == 0) {
        execl(path, path, (char *) NULL);
        say("kiln-init: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
}

/* Values as Kiln writes them (GuestConfig.shellQuote): 'text', with each ' as '\''; a bare word is taken as is. */
static char *shell_word(const char **cursor) {
    const char *p = *cursor;
    size_t capacity = strlen(p) + 1, n = 0;
    char *word = malloc(capacity);
    while (*p && *p != '\n') {
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++) word[n++] = *p;
            if (*p) p++;
        } else if (*p == '\\' && p[1]) {
            word[n++] = p[1];
            p += 2;
        } else {
            word[n++] = *p++;
        }
    }
    word[n] = 0;
    *cursor = *p ? p + 1 : p;
    return word;
}

struct assignment {
    char *name;
    char *value;
};

/* NAME='value' lines, in an array that ends with a NULL name. */
static struct assignment *read_assignments(const char *path, int required) {
    char *text = slurp(path, NULL);
    if (!text) {
        if (required) die("cannot read %s from the config drive: %s", path, strerror(errno));
        text = strdup("");
    }
    size_t count = 0;
    for (const char *p = text; *p; p++) count += *p == '\n';
    struct assignment *all = calloc(count + 2, sizeof *all);
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *equals = strchr(p, '=');
        const char *end = strchr(p, '\n');
        if (!equals || (end && end < equals)) {
            p = end ? end + 1 : p + strlen(p);
            continue;
        }
        all[n].name = strndup(p, (size_t) (equals - p));
        p = equals + 1;
        all[n].value = shell_word(&p);
        n++;
    }
    free(text);
    return all;
}

static const char *lookup(const struct assignment *all, const char *name) {
    for (; all->name; all++)
        if (strcmp(all->name, name) == 0) return all->value;
    return "";
}

/* The config drive: a ustar archive of regular files straight on the device. */
static void unpack_config(const char *device) {
    int fd = open(device, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot read the config drive %s: %s", device, strerror(errno));
    unsigned char header[512];
    for (;;) {
        if (read(fd, header, sizeof header) != (ssize_t) sizeof header) die("the config drive %s ends early", device);
        if (header[0] == 0) break;
        char name[101];
        memcpy(name, header, 100);
        name[100] = 0;
        char size_field[13];
        memcpy(size_field, header + 124, 12);
        size_field[12] = 0;
        size_t size = (size_t) strtoull(size_field, NULL, 8);
        char *content = malloc(size + 1);
        size_t got = 0;
        while (got < size) {
            ssize_t n = read(fd, content + got, size - got);
            if (n <= 0) die("the config drive %s ends inside %s", device, name);
            got += (size_t) n;
        }
        size_t padding = (512 - size % 512) % 512;
        if (padding && lseek(fd, (off_t) padding, SEEK_CUR) < 0) die("cannot read the config drive %s", device);
        char *base = name[0] == '.' && name[1] == '/' ? name + 2 : name;
        if ((header[156] == '0' || header[156] == 0) && *base && !strchr(base, '/') && strcmp(base, "..") != 0) {
            char path[200];
            snprintf(path, sizeof path, CFG "/%s", base);
            spew(path, content, size, 0600);
        }
        free(content);
    }
    close(fd);
}

struct account {
    uid_t uid;
    gid_t gid;
    gid_t groups[64];
    int group_count;
};

/* `runner` from the image's /etc/passwd and /etc/group (a static program has no NSS to ask). */
static struct account runner_account(void) {
    struct account runner = {0};
    char *passwd = slurp("/etc/passwd", NULL);
    if (!passwd) die("cannot read /etc/passwd: %s", strerror(errno));
    int found = 0;
    for (char *line = strtok(passwd, "\n"); line && !found; line = strtok(NULL, "\n")) {
        char *fields[7] = {0};
        int n = 0;
        for (char *field = line; n < 7; n++) {
            fields[n] = field;
            char *colon = strchr(field, ':');
            if (!colon) { n++; break; }
            *colon = 0;
            field = colon + 1;
        }
        if (n >= 4 && strcmp(fields[0], "runner") == 0) {
            runner.uid = (uid_t) strtoul(fields[2], NULL, 10);
            runner.gid = (gid_t) strtoul(fields[3], NULL, 10);
            found = 1;
        }
    }
    free(passwd);
    if (!found) die("the image has no user runner");
    runner.groups[runner.group_count++] = runner.gid;
    char *group = slurp("/etc/group", NULL);
    for (char *line = group ? strtok(group, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *name_end = strchr(line, ':');
        char *gid_field = name_end ? strchr(name_end + 1, ':') : NULL;
        char *members = gid_field ? strchr(gid_field + 1, ':') : NULL;
        if (!members) continue;
        gid_t gid = (gid_t) strtoul(gid_field + 1, NULL, 10);
        for (char *member = strtok_r(members + 1, ",", &members); member; member = strtok_r(NULL, ",", &members)) {
            if (strcmp(member, "runner") == 0 && gid != runner.gid && runner.group_count < 64)
                runner.groups[runner.group_count++] = gid;
        }
    }
    free(group);
    return runner;
}

static void interface_up(int sock, const char *name) {
    struct ifreq request = {0};
    snprintf(request.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(sock, SIOCGIFFLAGS, &request) != 0) die("no network interface %s: %s", name, strerror(errno));
    request.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &request) != 0) die("cannot bring %s up: %s", name, strerror(errno));
}

static struct sockaddr ipv4(const char *text, const char *what) {
    struct sockaddr_in address = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, text, &address.sin_addr) != 1) die("%s '%s' is not an IPv4 address", what, text);
    struct sockaddr generic;
    memcpy(&generic, &address, sizeof address);
    return generic;
}

/* IPv4 only (the host drops a VM's IPv6): no link-local address, duplicate detection or router solicitations. */
static void configure_network(const char *address, const char *prefix_text, const char *gateway) {
    int prefix = atoi(prefix_text);
    if (prefix < 1 || prefix > 32) die("network prefix '%s' is not 1-32", prefix_text);
    set_proc("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "1\n");
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) die("cannot open a socket to configure the network: %s", strerror(errno));
    interface_up(sock, "lo");
    struct ifreq request = {0};
    snprintf(request.ifr_name, IFNAMSIZ, "eth0");
    request.ifr_addr = ipv4(address, "the guest address");
    if (ioctl(sock, SIOCSIFADDR, &request) != 0) die("cannot configure eth0 as %s: %s", address, strerror(errno));
    struct sockaddr_in mask = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xffffffffu << (32 - prefix))};
    memcpy(&request.ifr_netmask, &mask, sizeof mask);
    if (ioctl(sock, SIOCSIFNETMASK, &request) != 0)
        die("cannot configure eth0 as %s/%d: %s", address, prefix, strerror(errno));
    interface_up(sock, "eth0");
    struct rtentry route = {0};
    route.rt_dst = ipv4("0.0.0.0", "the default route");
    route.rt_genmask = ipv4("0.0.0.0", "the default route");
    route.rt_gateway = ipv4(gateway, "the gateway");
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    route.rt_dev = "eth0";
    if (ioctl(sock, SIOCADDRT, &route) != 0) die("cannot route through %s: %s", gateway, strerror(errno));
    close(sock);
}

static void raw_line(int fd) {
    struct termios settings;
    if (tcgetattr(fd, &settings) != 0) return;
    cfmakeraw(&settings);
    tcsetattr(fd, TCSANOW, &settings);
}

static char **job_environment(const struct assignment *job, const char *home) {
    size_t count = 0;
    for (const struct assignment *a = job; a->name; a++) count++;
    char **env = calloc(count + 8, sizeof *env);
    size_t n = 0;
    const char *base[][2] = {{"PATH", JOB_PATH}, {"HOME", home}, {"USER", "runner"}, {"LOGNAME", "runner"},
            {"SHELL", "/bin/sh"}, {"LANG", "C.UTF-8"}};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (asprintf(&env[n++], "%s=%s", base[i][0], base[i][1]) < 0) die("out of memory");
    for (const struct assignment *a = job; a->name; a++) {
        size_t name_length = strlen(a->name);
        size_t i = 0;
        while (i < n && !(strncmp(env[i], a->name, name_length) == 0 && env[i][name_length] == '=')) i++;
        if (i < n) free(env[i]);
        if (asprintf(&env[i], "%s=%s", a->name, a->value) < 0) die("out of memory");
        if (i == n) n++;
    }
    env[n] = NULL;
    return env;
}

/* NUL-ended words into an argv; NULL when the file is absent or holds none. */
static char **command_words(const char *path) {
    size_t length;
    char *bytes = slurp(path, &length);
    if (!bytes) return NULL;
    size_t count = 0;
    for (size_t i = 0; i < length; i++) count += bytes[i] == 0;
    if (count == 0) {
        free(bytes);
        return NULL;
    }
    char **words = calloc(count + 1, sizeof *words);
    size_t n = 0;
    for (size_t i = 0; i < length && n < count; i += strlen(bytes + i) + 1) words[n++] = bytes + i;
    return words;
}

int main(int argc, char **argv) {
    (void) argc;
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strcmp(self, "kiln-root") == 0) stack_overlay();

    const char *stderr_line;
    if (access("/dev/ttyAMA0", F_OK) == 0) {
        console = "/dev/ttyAMA0";
        stderr_line = "/dev/hvc0";
    } else {
        console = "/dev/ttyS0";
        stderr_line = "/dev/ttyS1";
    }
    /* The image's hooks use busybox's applets and write their phases to the console. */
    setenv("PATH", "/usr/lib/kiln/bin:" JOB_PATH, 1);
    setenv("KILN_CONSOLE", console, 1);
    umask(022);

    must_mount("proc", "/proc", "proc", 0, NULL);
    must_mount("sysfs", "/sys", "sysfs", 0, NULL);
    make_dirs("/dev/pts", 0755);
    make_dirs("/dev/shm", 0755);
    must_mount("devpts", "/dev/pts", "devpts", 0, "gid=5,mode=620");
    must_mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777");
    make_dirs(CFG, 0755);
    must_mount("tmpfs", CFG, "tmpfs", 0, "mode=700");
    must_mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
    read_ahead("kiln-root");
    read_ahead("kiln-scratch");
    /* Kernel messages would interleave with the command's output on the console. */
    set_proc("/proc/sys/kernel/printk", "1\n");

    const char *config = disk_with_serial("kiln-config");
    if (!config) die("no config drive (virtio disk with serial kiln-config)");
    unpack_config(config);
    struct assignment *settings = read_assignments(CFG "/kiln.env", 1);
    const char *nonce = lookup(settings, "KILN_NONCE");
    const char *hostname = lookup(settings, "KILN_HOSTNAME");
    const char *guest_ip = lookup(settings, "KILN_GUEST_IP");
    if (!*nonce) die("the config drive's kiln.env has no KILN_NONCE");
    /* The command is not secret; the rest of the config stays readable by root only. */
    copy_file(CFG "/command.sh", "/run/kiln/command.sh", 0755);
    struct account runner = runner_account();
    /* A runner VM: the JIT config becomes readable by `runner` alone, for `run.sh --jitconfig`. */
    if (access(CFG "/jitconfig", F_OK) == 0) {
        if (mkdir("/run/kiln/runner", 0700) != 0) die("cannot make /run/kiln/runner: %s", strerror(errno));
        copy_file(CFG "/jitconfig", "/run/kiln/runner/jitconfig", 0400);
        if (chown("/run/kiln/runner", runner.uid, runner.gid) != 0
                || chown("/run/kiln/runner/jitconfig", runner.uid, runner.gid) != 0)
            die("cannot give the runner its JIT config: %s", strerror(errno));
    }

    if (sethostname(hostname, strlen(hostname)) != 0) die("cannot set the hostname %s: %s", hostname, strerror(errno));
    char text[512];
    snprintf(text, sizeof text, "%s\n", hostname);
    spew_text("/etc/hostname", text);
    snprintf(text, sizeof text, "127.0.0.1 localhost\n127.0.1.1 %s\n", hostname);
    spew_text("/etc/hosts", text);
    if (*guest_ip) {
        configure_network(guest_ip, lookup(settings, "KILN_PREFIX"), lookup(settings, "KILN_GATEWAY"));
        char resolv[512] = "";
        char *servers = strdup(lookup(settings, "KILN_DNS"));
        for (char *server = strtok(servers, " "); server; server = strtok(NULL, " ")) {
            size_t used = strlen(resolv);
            snprintf(resolv + used, sizeof resolv - used, "nameserver %s\n", server);
        }
        free(servers);
        spew_text("/etc/resolv.conf", resolv);
    } else {
        int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0) die("cannot open a socket to configure the network: %s", strerror(errno));
        interface_up(sock, "lo");
        close(sock);
    }
    phase("network");
    /* Work started in the background, beside the rest of the boot (the runner image starts containerd and dockerd, whose
       loads take seconds under emulation), once the network is there for it to see. */
    hook("/usr/lib/kiln/guest-early");

    /* A debugging shell (`kiln ssh`): when the config drive carries a host key, sshd listens on the VM's own address
       and lets in `runner` alone, from the host's end of the tap alone (the agent relays every session), with the keys
       the launch allowed and no password. The host key is this VM's own, made by the host before the boot, so the
       gateway knows it and verifies it: images carry none. */
    if (access(CFG "/ssh_host_key", F_OK) == 0 && access("/usr/sbin/sshd", X_OK) == 0 && *guest_ip) {
        make_dirs("/run/kiln/ssh", 0755);
        make_dirs("/run/sshd", 0755);
        copy_file(CFG "/ssh_host_key", "/run/kiln/ssh/host_key", 0600);
        copy_file(CFG "/ssh_authorized_keys", "/run/kiln/ssh/authorized_keys", 0644);
        char listen[96], allow[128];
        snprintf(listen, sizeof listen, "ListenAddress=%s", guest_ip);
        snprintf(allow, sizeof allow, "AllowUsers=runner@%s", lookup(settings, "KILN_GATEWAY"));
        pid_t sshd = fork();
        if (sshd < 0) die("cannot start sshd: %s", strerror(errno));
        if (sshd == 0) {
            execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-o", listen, "-o", "HostKey=/run/kiln/ssh/host_key",
                    "-o", "AuthorizedKeysFile=/run/kiln/ssh/authorized_keys", "-o", allow,
                    "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                    "-o", "PermitRootLogin=no", (char *) NULL);
            _exit(127);
        }
        int status;
        while (waitpid(sshd, &status, 0) < 0 && errno == EINTR) {}
        /* sshd forks its daemon and its first process exits 0 once it listens. */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("sshd did not start");
        phase("sshd");
    }

    /* The work area of the job lives on the scratch disk, outside the overlay. */
    make_dirs("/run/kiln/scratch/work", 0755);
    if (chown("/run/kiln/scratch/work", runner.uid, runner.gid) != 0)
        die("cannot give /run/kiln/scratch/work to runner: %s", strerror(errno));
    hook("/usr/lib/kiln/guest-hooks");

    /* arm64's hvc0 forgets its settings whenever its last holder closes it (the hvc driver resets termios on the last
       close; a UART keeps them): init holds both lines open for the command's whole life. */
    int out = open(console, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    int err = open(stderr_line, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (out < 0 || err < 0) die("cannot open the console lines %s and %s: %s", console, stderr_line, strerror(errno));
    raw_line(out);
    raw_line(err);
    say(RS "KILN-READY:%s\n", nonce);

    /* The job's environment: only what the config asks for, never the config itself. */
    char **env = job_environment(read_assignments(CFG "/job.env", 0), "/home/runner");
    /* The command's words, exec'd as they are (a shell only where the command is one); a runner VM's start and
       configs made by hand have only command.sh. Read here: the config is root's alone. */
    char **words = command_words(CFG "/command.argv");
    pid_t job = fork();
    if (job < 0) die("cannot start the command: %s", strerror(errno));
    if (job == 0) {
        int nothing = open("/dev/null", O_RDONLY);
        if (nothing < 0 || dup2(nothing, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(125);
        if (nothing > 2) close(nothing);
        if (chdir("/run/kiln/scratch/work") != 0 || setgroups((size_t) runner.group_count, runner.groups) != 0
                || setresgid(runner.gid, runner.gid, runner.gid) != 0 || setresuid(runner.uid, runner.uid, runner.uid) != 0) {
            dprintf(2, "kiln-init: cannot become runner: %s\n", strerror(errno));
            _exit(125);
        }
        if (words) {
            /* execvp looks the program up on the job's PATH, and hands a script without #! to /bin/sh, as sh's exec. */
            environ = env;
            execvp(words[0], words);
            int why = errno;
            dprintf(2, why == ENOENT ? "kiln-init: %s: not found\n" : "kiln-init: cannot run %s: %s\n", words[0],
                    strerror(why));
            _exit(why == ENOENT ? 127 : 126);
        }
        char *command[] = {"/run/kiln/command.sh", NULL};
        execve(command[0], command, env);
        dprintf(2, "kiln-init: cannot run the command: %s\n", strerror(errno));
        _exit(126);
    }
    /* PID 1 adopts every orphan: reaped here until the job itself ends. */
    int status = 0;
    for (;;) {
        pid_t ended = wait(&status);
        if (ended == job) break;
        if (ended < 0 && errno != EINTR) die("lost the command: %s", strerror(errno));
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* No sync: every disk the guest writes (the scratch overlay) is thrown away with the VM, and the job's output went to
       the console lines, not to a disk. */
    say(RS "KILN-EXIT:%s:%d\n", nonce, code);
    reboot(RB_AUTOBOOT);
    return 0;
}
